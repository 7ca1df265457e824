"""`/t/<slug>/api/v1/usage`: the report over HMAC, bad input, other tenants."""

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import time_machine

from tests.callauto.test_hmac_auth import send
from tests.calls.api_support import assert_error
from tests.conftest import key_of
from tests.usage.records import meter
from usage.models import Category

pytestmark = pytest.mark.django_db

NOV = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def get_usage(client, tenant, key=None, slug="acme", **params):
    target = f"/t/{slug}/api/v1/usage/"
    if params:
        target += "?" + urlencode(params)
    return send(client, "GET", target, key=key or key_of(tenant), host=f"testserver/t/{slug}")


def test_the_report_lists_each_day_and_category_with_cost_and_totals(client, tenant):
    meter(
        tenant,
        (NOV, Category.PSTN_OUTBOUND, 61),
        (NOV, Category.PSTN_OUTBOUND, 30),
        (datetime(2026, 11, 21, 9, tzinfo=UTC), Category.VOIP, 600),
    )

    response = get_usage(client, tenant, **{"from": "2026-11-01", "to": "2026-11-30"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["currency"] == "USD"
    assert body["rows"] == [
        {
            "period": "2026-11-20",
            "category": "pstn_outbound",
            "count": 2,
            "seconds": 91.0,
            "billableSeconds": 180,
            "quantity": 0,
            "cost": "0.039000",
        },
        {
            "period": "2026-11-21",
            "category": "voip",
            "count": 1,
            "seconds": 600.0,
            "billableSeconds": 600,
            "quantity": 0,
            "cost": "0.040000",
        },
    ]
    assert Decimal(body["total"]["cost"]) == Decimal("0.079")
    assert body["byCategory"]["voip"]["count"] == 1


def test_grouping_by_month_adds_up_the_days(client, tenant):
    meter(
        tenant,
        (NOV, Category.VOIP, 60),
        (datetime(2026, 11, 3, tzinfo=UTC), Category.VOIP, 60),
        (datetime(2026, 10, 3, tzinfo=UTC), Category.VOIP, 60),
    )

    response = get_usage(
        client, tenant, **{"from": "2026-10-01", "to": "2026-11-30"}, group="month"
    )

    rows = response.json()["rows"]
    assert [(r["period"], r["count"]) for r in rows] == [("2026-10-01", 1), ("2026-11-01", 2)]


def test_without_dates_the_report_is_this_month_so_far(client, tenant):
    meter(tenant, (NOV, Category.VOIP, 60), (datetime(2026, 10, 31, tzinfo=UTC), Category.VOIP, 60))

    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC)):
        body = get_usage(client, tenant).json()

    assert (body["from"], body["to"]) == ("2026-11-01", "2026-11-25")
    assert body["total"]["count"] == 1


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
        ({"group": "week"}, "group"),
    ],
)
def test_bad_query_parameters_answer_400_naming_the_field(client, tenant, params, target):
    response = get_usage(client, tenant, **params)

    error = assert_error(response, 400, "BadRequest")
    assert [d["target"] for d in error["details"]] == [target]


def test_another_tenants_key_cannot_read_the_report(client, tenant, other_tenant):
    response = get_usage(client, tenant, key=key_of(other_tenant))

    assert_error(response, 401)


def test_a_tenant_sees_only_its_own_usage(client, tenant, other_tenant):
    meter(other_tenant, (NOV, Category.VOIP, 600))

    body = get_usage(client, tenant, **{"from": "2026-11-01", "to": "2026-11-30"}).json()

    assert body["rows"] == []
    assert body["total"]["count"] == 0


def test_an_unknown_tenant_answers_404(client, tenant):
    response = get_usage(client, tenant, slug="nobody")

    assert_error(response, 404)
