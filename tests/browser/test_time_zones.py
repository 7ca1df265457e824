"""Issue 17, item 6: every time in the tenant's zone (the member's own if set), the zone
named in column headers, the exact UTC time on hover."""

from datetime import UTC, datetime

import pytest
import time_machine
from playwright.sync_api import expect

from calls.models import Call
from tenants import services

pytestmark = pytest.mark.django_db(transaction=True)

NOON_UTC = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 08:00 in New York, 14:00 in Paris


@pytest.fixture
def new_york(tenant):
    tenant.time_zone = "America/New_York"
    tenant.save()
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    Call.unscoped.filter(pk=call.pk).update(created_at=NOON_UTC)
    with time_machine.travel(NOON_UTC):  # the audit log is append-only: write it then
        services.add_phone_number(tenant, "+14255550100", actor=None)
    return tenant


def test_times_show_in_the_tenant_zone_with_utc_on_hover(new_york, log_in):
    page = log_in("owner")

    for path, header, row in [("calls/", "Started", "Outbound"), ("audit/", "When", "+1425")]:
        page.goto(f"/portal/t/acme/{path}")
        expect(page.locator("th", has_text=header)).to_contain_text("(America/New_York)")
        moment = page.locator("tbody tr", has_text=row).locator("td time").first
        expect(moment).to_contain_text("2026-07-01 08:00")
        expect(moment).to_have_attribute("title", "2026-07-01 12:00:00 UTC")


def test_a_member_who_chose_a_zone_sees_times_in_it(new_york, log_in, screenshot):
    page = log_in("owner")
    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Your time zone"
    ).click()

    page.get_by_label("Show times in").select_option("Europe/Paris")
    page.get_by_role("button", name="Save").click()

    expect(page.locator("#display-zone")).to_have_text("Europe/Paris")
    page.goto("/portal/t/acme/calls/")
    expect(page.locator("th", has_text="Started")).to_contain_text("(Europe/Paris)")
    expect(page.locator("td time").first).to_contain_text("2026-07-01 14:00")
    screenshot(page, "calls-in-my-zone")
