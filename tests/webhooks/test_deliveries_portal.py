"""The deliveries page's filters: by endpoint and by state."""

import pytest
from django.urls import reverse

from calls.models import Call
from tests.factories import make_call_delivery
from tests.paging import pager_links
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

PAGE = reverse("portal:deliveries", kwargs={"tenant_slug": "acme"})
APP, OTHER = "https://app.example.com/cb", "https://other.example.com/cb"


@pytest.fixture
def deliveries(tenant):
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)

    def make(url: str, state: str) -> Delivery:
        return make_call_delivery(
            tenant, call, url=url, state=state, sequence=Delivery.unscoped.count() + 1
        )

    return make


def shown(client, **query: str) -> set[int]:
    response = client.get(PAGE, query)
    assert response.status_code == 200
    return {d.pk for d in response.context["deliveries"]}


def test_by_default_only_dead_and_retrying_deliveries_are_shown(client, user, deliveries):
    dead, retrying = deliveries(APP, "dead"), deliveries(APP, "retrying")
    deliveries(APP, "delivered")
    client.force_login(user)

    assert shown(client) == {dead.pk, retrying.pk}


def test_deliveries_filter_by_state_and_endpoint(client, user, deliveries):
    delivered = deliveries(APP, "delivered")
    deliveries(OTHER, "delivered")
    dead_other = deliveries(OTHER, "dead")
    client.force_login(user)

    assert shown(client, state="delivered", url=APP) == {delivered.pk}
    assert shown(client, url=OTHER) == {dead_other.pk}


def test_an_unknown_state_shows_nothing_and_an_error_rather_than_failing(client, user, deliveries):
    deliveries(APP, "dead")
    client.force_login(user)

    response = client.get(PAGE, {"state": "exploded"})

    assert response.status_code == 200
    assert list(response.context["deliveries"]) == []
    assert "state" in response.context["form"].errors


def test_another_tenants_deliveries_are_never_listed(client, tenant, user, other_tenant):
    call = Call.unscoped.create(tenant=other_tenant, direction=Call.Direction.OUTBOUND)
    make_call_delivery(other_tenant, call, url=APP, state="dead")
    client.force_login(user)

    assert shown(client) == set()
    assert shown(client, state="dead", url=APP) == set()


def test_deliveries_are_paginated_keeping_the_filters(client, tenant, user, deliveries):
    for _ in range(51):
        deliveries(APP, "dead")
    client.force_login(user)

    first = client.get(PAGE, {"state": "dead"})
    older = pager_links(first)["next"]

    assert len(first.context["deliveries"]) == 50
    assert older.startswith("?state=dead&older=")
    assert len(client.get(PAGE + older).context["deliveries"]) == 1
