"""Issue 17, item 7: the softphone remembers who you are, rings (title and sound), takes
keys from the keyboard, shows hold, and lists recent calls with how they ended."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from calls import call_verbs, softphone
from calls.identifiers import Identifier
from calls.models import CarrierCommand, Participant
from tenants import services as tenant_services
from tests.browser.test_softphone import NUMBER, PERSON, advancing

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_softphone_remembers_rings_takes_keyboard_keys_and_lists_recent_calls(
    tenant, log_in, callbacks, gateway, screenshot
):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    softphone.add_identity(tenant, "+14255550198", actor=None)
    identity = softphone.add_identity(tenant, PERSON, actor=None)
    page = log_in("owner")
    page.goto(f"/portal/t/acme/softphone/?as={identity.pk}")
    page.goto("/portal/t/acme/calls/")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Softphone").click()
    expect(page.locator("select[name=as] option:checked")).to_have_text(f"4:{PERSON}")
    until = advancing(page, gateway)

    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(PERSON)],
        callback_uri=callbacks.url,
        source_caller_id=NUMBER,
    )
    ringing = page.locator("#softphone-legs li.ringing")
    until(lambda: ringing.count() == 1)
    expect(page).to_have_title(f"Ringing · Softphone · {tenant.name}")
    ringing.get_by_role("button", name="Answer").click()
    until(lambda: "CallConnected" in callbacks.types())
    expect(page).to_have_title(f"Softphone · {tenant.name}")
    until(lambda: not page.locator(".keypad button[data-key='5']").is_disabled())

    for key in ("5", "#", "*", "0"):
        page.keyboard.press(key)
        until(lambda key=key: softphone_pressed(tenant, key))

    Participant.unscoped.filter(raw_id=f"4:{PERSON}").update(is_on_hold=True)
    until(lambda: page.locator("#softphone-legs li.on_hold").count() == 1)
    Participant.unscoped.filter(raw_id=f"4:{PERSON}").update(is_on_hold=False)
    call_verbs.hang_up(tenant, connection.call_connection_id)
    until(lambda: page.locator("#softphone-legs li").count() == 0)
    recent = page.locator("table.recent-calls tbody tr").first
    expect(recent).to_contain_text("disconnected")
    recent.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("Outbound call")


def softphone_pressed(tenant, key: str) -> bool:
    presses = CarrierCommand.unscoped.filter(tenant=tenant, kind=CarrierCommand.Kind.PRESS)
    return presses.filter(payload__key=key).exists()


RING = """
window.__tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones.push(this.frequency.value);
  return start.apply(this, args);
};
"""


def test_a_call_to_any_of_my_identities_rings_whichever_is_selected(
    tenant, log_in, callbacks, gateway
):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    owner = get_user_model().objects.get(username="owner")
    shown = softphone.add_identity(tenant, "+14255550197", actor=owner)
    softphone.add_identity(tenant, PERSON, actor=owner)
    softphone.add_identity(tenant, "+14255550196", actor=None)  # nobody's: rings only if shown
    page = log_in("owner")
    page.add_init_script(RING)
    page.goto(f"/portal/t/acme/softphone/?as={shown.pk}")
    expect(page.locator(".also-rings")).to_contain_text(PERSON)
    until = advancing(page, gateway)

    for person in ("+14255550196", PERSON):
        connection = call_verbs.create_call(
            tenant,
            targets=[Identifier.phone(person)],
            callback_uri=callbacks.url,
            source_caller_id=NUMBER,
        )
    ringing = page.locator("#softphone-legs li.ringing")
    until(lambda: ringing.count() == 1)
    expect(ringing.locator(".identity")).to_have_text(f"for 4:{PERSON}")
    expect(page).to_have_title(f"Ringing · Softphone · {tenant.name}")
    until(lambda: {440, 480} <= set(page.evaluate("window.__tones")))  # the ring tone plays

    ringing.get_by_role("button", name="Answer").click()
    until(lambda: page.locator("#softphone-legs li.connected").count() == 1)
    leg = Participant.unscoped.get(raw_id=f"4:{PERSON}")
    assert leg.state == Participant.State.CONNECTED
    assert leg.joined_at is not None
    call_verbs.hang_up(tenant, connection.call_connection_id)
    until(lambda: page.locator("#softphone-legs li").count() == 0)
    expect(page.locator("#softphone-status")).to_contain_text("Call ended: disconnected")


def test_making_an_identity_mine_makes_it_ring_from_another_identity_page(tenant, log_in):
    owner = get_user_model().objects.get(username="owner")
    theirs = softphone.add_identity(tenant, PERSON, actor=None)
    mine = softphone.add_identity(tenant, "+14255550197", actor=owner)
    page = log_in("owner")
    page.goto(f"/portal/t/acme/softphone/?as={theirs.pk}")
    page.get_by_role("button", name="Make it mine").click()

    expect(page.locator(".flash")).to_contain_text("now ring here for you")
    page.goto(f"/portal/t/acme/softphone/?as={mine.pk}")
    expect(page.locator(".also-rings")).to_contain_text(PERSON)
    assert tenant.audit_entries.filter(action="simulated_callee.change").exists()


def test_a_declined_call_ends_with_its_reason_on_the_page(tenant, log_in, callbacks, gateway):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    identity = softphone.add_identity(tenant, PERSON, actor=None)
    page = log_in("owner")
    page.goto(f"/portal/t/acme/softphone/?as={identity.pk}")
    until = advancing(page, gateway)
    call_verbs.create_call(
        tenant, targets=[Identifier.phone(PERSON)], callback_uri=callbacks.url,
        source_caller_id=NUMBER,
    )  # fmt: skip
    ringing = page.locator("#softphone-legs li.ringing")
    until(lambda: ringing.count() == 1)

    ringing.get_by_role("button", name="Decline").click()
    until(lambda: page.locator("#softphone-legs li").count() == 0)
    until(lambda: "CreateCallFailed" in callbacks.types())
    expect(page.locator("#softphone-status")).to_have_text("Call ended: failed · 603 · Declined.")
    expect(page.locator("table.recent-calls tbody tr").first).to_contain_text("603 · Declined")
