"""The server-rendered charts: a continuous time axis and round grid lines."""

from datetime import UTC, date, datetime

import pytest

from tests.usage.records import meter
from usage import charts, reports
from usage.models import Category


@pytest.mark.parametrize(
    ("amount", "top"), [(0, 1.0), (0.091, 0.1), (3, 4), (4.2, 5), (61, 80), (100, 100)]
)
def test_the_axis_tops_out_at_a_round_number(amount, top):
    assert charts.nice_ceiling(amount) == pytest.approx(top)


@pytest.mark.django_db
def test_a_day_without_usage_keeps_its_place_on_the_axis(tenant):
    meter(tenant, (datetime(2026, 11, 20, tzinfo=UTC), Category.VOIP, 60))

    report = reports.tenant_usage(tenant, start=date(2026, 11, 1), end=date(2026, 11, 30))

    periods = report.by_period()
    assert len(periods) == 30
    assert [day.day for day, categories in periods if categories] == [20]


def test_months_are_listed_from_the_first_to_the_last():
    months = reports.periods_between(date(2026, 10, 15), date(2027, 1, 3), reports.MONTH)

    assert [m.isoformat() for m in months] == [
        "2026-10-01",
        "2026-11-01",
        "2026-12-01",
        "2027-01-01",
    ]


def test_labels_in_the_chart_are_escaped():
    svg = charts.stacked_bars([("<b>", {Category.VOIP: 1})], float, title="t", unit="u", label=str)

    assert "&lt;b&gt;" in svg
    assert "<b>" not in svg
