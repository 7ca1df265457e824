"""Every query filter set of the tenant API extends ApiFilterSet, so its number filters are
bounded whole numbers and its time filters are read in UTC (issue 12, defect 7)."""

from tenants.api.filters import ApiFilterSet
from tests.api_routes import api_routes


def test_every_filter_set_of_the_tenant_api_is_an_api_filter_set():
    filter_sets = {
        route.view.filterset_class
        for route in api_routes()
        if getattr(route.view, "filterset_class", None) is not None
    }

    assert len(filter_sets) >= 3
    assert all(issubclass(each, ApiFilterSet) for each in filter_sets), filter_sets
