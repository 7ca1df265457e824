"""The usage pages: a tenant's report with its chart and CSV, and the platform report."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from tenants.models import Membership
from tests.factories import UserFactory
from tests.usage.records import meter
from usage.models import Category, UsageRecord

pytestmark = pytest.mark.django_db

NOV = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def url(name: str, slug: str = "acme") -> str:
    return reverse(f"portal:{name}", kwargs={"tenant_slug": slug})


@pytest.fixture
def november(tenant):
    return meter(
        tenant,
        (NOV, Category.PSTN_OUTBOUND, 61),
        (NOV, Category.PSTN_INBOUND, 5),
        (NOV + timedelta(days=1), Category.VOIP, 600),
        (NOV + timedelta(days=2), Category.RECORDING, 95),
        (NOV + timedelta(days=2), Category.TTS, 31),
    )


def test_a_viewer_reads_the_report_with_its_totals_and_chart(client, member_client, november):
    member_client(Membership.Role.VIEWER)

    response = client.get(url("usage"), NOVEMBER)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<th data-total-cost>0.0785</th>" in html  # 0.026 + 0.0085 + 0.04 + 0.004
    assert html.count('<svg class="chart"') == 1
    assert html.count("<rect x=") == 5  # one per day and category
    assert "PSTN inbound" in html


def test_grouping_by_month_draws_one_bar(client, user, november):
    client.force_login(user)

    html = client.get(url("usage"), {**NOVEMBER, "group": "month"}).content.decode()

    assert html.count("<rect x=") == 5  # one month, five categories stacked
    assert ">2026-11<" in html


def test_a_bad_date_is_explained_and_the_default_period_shown(client, user, november):
    client.force_login(user)

    response = client.get(url("usage"), {"from": "2026-02-30"})

    assert response.status_code == 200
    assert "from: Date has wrong format" in response.content.decode()


def test_someone_elses_tenant_report_is_404(client, tenant, other_tenant, user, november):
    client.force_login(user)

    assert client.get(url("usage", "globex")).status_code == 404
    assert client.get(url("usage_csv", "globex")).status_code == 404


def test_the_csv_totals_equal_the_database(client, user, tenant, november):
    client.force_login(user)

    response = client.get(url("usage_csv"), NOVEMBER)

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    *lines, total = rows
    assert total["period"] == "total"
    stored = UsageRecord.objects.for_tenant(tenant).aggregate(
        n=Count("pk"), billable=Sum("billable_seconds"), qty=Sum("quantity"), cost=Sum("cost")
    )
    units = ("calls", "tts_requests", "recording_files")
    assert sum(int(total[unit]) for unit in units) == stored["n"] == 5
    for unit in units:  # each unit's total is its own rows' sum
        assert int(total[unit]) == sum(int(line[unit]) for line in lines)
    assert int(total["billable_seconds"]) == stored["billable"]
    assert int(total["tts_characters"]) == stored["qty"] == 31
    assert Decimal(total["cost"]) == stored["cost"]
    assert sum(Decimal(line["cost"]) for line in lines) == stored["cost"]
    assert {line["currency"] for line in rows} == {"USD"}


def test_the_csv_keeps_to_the_requested_period(client, user, tenant, november):
    client.force_login(user)

    response = client.get(url("usage_csv"), {"from": "2026-11-21", "to": "2026-11-21"})

    *lines, total = csv.DictReader(io.StringIO(response.content.decode()))
    assert [(line["period"], line["category"]) for line in lines] == [("2026-11-21", "voip")]
    assert total["cost"] == "0.040000"


@pytest.fixture
def superuser(db):
    return UserFactory(username="operator", is_superuser=True, is_staff=True)


def test_a_superuser_sees_every_tenants_usage(client, superuser, tenant, other_tenant):
    now = timezone.now()
    meter(tenant, (now, Category.VOIP, 600))
    meter(other_tenant, (now, Category.PSTN_OUTBOUND, 120), (now, Category.VOIP, 60))
    client.force_login(superuser)

    response = client.get(reverse("portal:platform_usage"))

    assert response.status_code == 200
    report = response.context["report"]
    assert [row.tenant.slug for row in report.tenants] == ["acme", "globex"]
    assert report.total.billable_seconds == 600 + 120 + 60
    assert report.cost_by_currency == {"USD": Decimal("0.04") + Decimal("0.026") + Decimal("0.004")}
    assert "Globex" in response.content.decode()


def test_the_platform_report_leaves_out_older_days(client, superuser, tenant):
    with time_machine.travel(datetime(2026, 11, 25, 12, tzinfo=UTC)):
        meter(tenant, (datetime(2026, 10, 1, tzinfo=UTC), Category.VOIP, 600))
        client.force_login(superuser)

        report = client.get(reverse("portal:platform_usage"), {"days": "30"}).context["report"]

    assert report.tenants == []


def test_a_tenant_owner_cannot_see_the_platform_report(client, user, tenant):
    client.force_login(user)

    assert client.get(reverse("portal:platform_usage")).status_code == 404


def test_the_platform_report_needs_a_login(client):
    response = client.get(reverse("portal:platform_usage"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_unknown_span_of_days_falls_back_to_thirty(client, superuser):
    client.force_login(superuser)

    response = client.get(reverse("portal:platform_usage"), {"days": "x"})

    assert response.status_code == 200
    assert response.context["days"] == 30


def test_a_superuser_opens_any_tenants_report_without_being_a_member(
    client, superuser, other_tenant
):
    meter(other_tenant, (NOV, Category.VOIP, 600))
    client.force_login(superuser)

    page = client.get(reverse("portal:platform_tenant_usage", args=["globex"]), NOVEMBER)
    csv_file = client.get(reverse("portal:platform_tenant_usage_csv", args=["globex"]), NOVEMBER)

    assert page.status_code == 200
    assert page.context["report"].total.cost == Decimal("0.04")
    *_, total = csv.DictReader(io.StringIO(csv_file.content.decode()))
    assert total["cost"] == "0.040000"


def test_a_tenant_owner_cannot_open_another_tenants_report_through_the_platform_pages(
    client, user, tenant, other_tenant
):
    client.force_login(user)

    page = client.get(reverse("portal:platform_tenant_usage", args=["globex"]))
    csv_file = client.get(reverse("portal:platform_tenant_usage_csv", args=["globex"]))

    assert (page.status_code, csv_file.status_code) == (404, 404)


def test_the_csv_gives_each_unit_its_own_column(client, user, tenant, november):
    """Issue 17, item 12: calls, speech requests and recording files are never added up."""
    client.force_login(user)

    response = client.get(url("usage_csv"), NOVEMBER)

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    for row in rows[:-1]:
        filled = [unit for unit in ("calls", "tts_requests", "recording_files") if row[unit] != "0"]
        expected = {"tts": ["tts_requests"], "recording": ["recording_files"]}.get(
            row["category"], ["calls"]
        )
        assert filled == expected, row
