"""The portal in a real browser: switching tenants, a call placed with the SDK filling its
timeline live, redelivering a dead callback; screenshots of the main pages."""

import re
from datetime import timedelta

import pytest
import time_machine
from azure.communication.callautomation import PhoneNumberIdentifier
from django.utils import timezone
from playwright.sync_api import expect

from calls import call_verbs
from calls.identifiers import Identifier
from calls.models import Call
from tenants import services as tenant_services
from tenants.models import Membership
from webhooks import delivery
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)

CALLER, CALLEE = "+14255550100", "+14255550123"
# Elements sticking out past the right edge of the screen (the page would pan sideways).
WIDER_THAN_SCREEN = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(e => !e.parentElement.closest('table'))  // those scroll inside
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


@pytest.fixture
def acme(tenant):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    return tenant


def test_a_member_of_two_tenants_switches_between_them(tenant, other_tenant, user, log_in):
    Membership.unscoped.create(tenant=other_tenant, user=user, role=Membership.Role.VIEWER)
    page = log_in("owner")
    expect(page).to_have_url(re.compile(r"/portal/t/acme/$"))

    page.locator(".switcher summary").click()
    page.locator(".switcher").get_by_role("link", name="Globex").click()

    expect(page).to_have_url(re.compile(r"/portal/t/globex/$"))
    expect(page.locator("h1")).to_have_text("Globex")


def test_a_call_placed_with_the_sdk_appears_and_its_timeline_fills_live(
    acme, sdk_client, callbacks, gateway, log_in, screenshot
):
    sdk_client().create_call(
        PhoneNumberIdentifier(CALLEE),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
    )
    page = log_in("owner")

    page.goto("/portal/t/acme/calls/")
    row = page.locator("table.calls tbody tr").first
    expect(row).to_contain_text(CALLER)
    expect(row).to_contain_text("Connecting")
    screenshot(page, "calls")
    row.get_by_role("link").click()
    expect(page.locator("#call-live")).to_have_attribute("data-state", "connecting")
    expect(page.locator("ol.timeline")).not_to_contain_text("CallConnected")

    gateway.advance(2)  # the callee answers: no reload, the page's refresh shows it

    expect(page.locator("ol.timeline")).to_contain_text("CallConnected", timeout=6000)
    expect(page.locator("#call-live")).to_have_attribute("data-state", "connected")
    expect(page.locator("table.deliveries")).to_contain_text("Delivered")
    page.locator("ol.timeline summary", has_text="CallConnected").click()
    expect(page.locator("ol.timeline pre.payload").last).to_contain_text('"callConnectionId"')
    screenshot(page, "call-detail")

    page.goto("/portal/t/acme/")
    expect(page.locator("#active-calls")).to_have_text("1")
    screenshot(page, "dashboard")


def test_the_live_timeline_shows_the_hang_up_and_then_stops_refreshing(
    acme, sdk_client, callbacks, gateway, log_in
):
    client = sdk_client()
    placed = client.create_call(
        PhoneNumberIdentifier(CALLEE),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
    )
    gateway.advance(2)
    page = log_in("owner")
    page.goto(f"/portal/t/acme/calls/{Call.unscoped.get().pk}/")
    expect(page.locator("#call-live")).to_have_attribute("data-state", "connected")
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "/timeline/" in r.url else None)

    client.get_call_connection(placed.call_connection_id).hang_up(is_for_everyone=True)
    gateway.advance(1)

    expect(page.locator("ol.timeline")).to_contain_text("CallDisconnected", timeout=6000)
    expect(page.locator("#call-live")).to_have_attribute("data-state", "disconnected")
    settled = len(fetched)
    page.wait_for_timeout(2500)  # one more interval: no further fetch
    assert len(fetched) == settled


def dead_callback(tenant, callbacks, gateway) -> Delivery:
    """A connected call whose CallDisconnected callback failed (500) until it was dead."""
    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(CALLEE)],
        callback_uri=callbacks.url,
        source_caller_id=CALLER,
    )
    gateway.advance(2)
    callbacks.status = 500
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        call_verbs.hang_up(tenant, connection.call_connection_id)
        dead = Delivery.unscoped.get(event_type="CallDisconnected")
        while dead.state != Delivery.State.DEAD:
            traveller.move_to(dead.next_attempt_at + timedelta(seconds=1))
            delivery.sweep()
            dead.refresh_from_db()
    callbacks.status = 200
    return dead


def test_an_operator_redelivers_a_dead_callback_and_the_audit_log_shows_it(
    acme, callbacks, gateway, log_in, screenshot
):
    dead = dead_callback(acme, callbacks, gateway)
    page = log_in("owner")

    page.goto("/portal/t/acme/deliveries/")
    row = page.locator("tbody tr", has_text="CallDisconnected")
    expect(row).to_contain_text("Dead")
    expect(row).to_contain_text("8")  # attempts
    screenshot(page, "deliveries")
    row.get_by_role("button", name="Redeliver").click()

    expect(page.get_by_role("status")).to_contain_text("Queued for delivery again")
    dead.refresh_from_db()
    assert dead.state == Delivery.State.DELIVERED
    assert callbacks.of_type("CallDisconnected")[-1]["id"] == str(dead.message_id)

    page.goto("/portal/t/acme/audit/")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("delivery.redeliver")
    screenshot(page, "audit-log")


def test_the_call_detail_offers_redelivery_of_a_dead_callback(acme, callbacks, gateway, log_in):
    dead = dead_callback(acme, callbacks, gateway)
    page = log_in("owner")

    page.goto(f"/portal/t/acme/calls/{dead.call_event.call_id}/")
    row = page.locator("table.deliveries tbody tr", has_text="CallDisconnected")
    expect(row).to_contain_text("Dead")
    row.get_by_role("button", name="Redeliver").click()

    expect(page.get_by_role("status")).to_contain_text("Queued for delivery again")
    expect(page.locator("table.deliveries tbody tr", has_text="CallDisconnected")).to_contain_text(
        "Delivered"
    )


@pytest.mark.parametrize("path", ["", "calls/", "calls/{call}/", "deliveries/", "audit/"])
def test_portal_pages_fit_a_phone_screen_and_break_no_content_policy(
    acme, callbacks, gateway, log_in, path
):
    connection = call_verbs.create_call(
        acme,
        targets=[Identifier.phone(CALLEE)],
        callback_uri=callbacks.url,
        source_caller_id=CALLER,
    )
    gateway.advance(2)
    page = log_in("owner")
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto(f"/portal/t/acme/{path.format(call=connection.call_id)}")

    assert page.evaluate(WIDER_THAN_SCREEN) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert violations == []
