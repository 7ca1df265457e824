"""Issue 17, item 12: an incoming call nobody could hear says why, and links to the
setting that fixes it."""

import re

import pytest
from playwright.sync_api import expect

from calls import incoming_verbs
from calls.identifiers import Identifier
from calls.models import Call
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_unanswered_incoming_call_without_an_event_webhook_says_why(
    tenant, settings, gateway, log_in
):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    incoming_verbs.simulate_incoming_call(
        tenant, to_number="+14255550100", caller=Identifier.phone("+14255550199")
    )
    gateway.advance(settings.INCOMING_CALL_RING_TIMEOUT_SECONDS + 2)
    call = Call.unscoped.get()
    assert call.end_code == 408
    page = log_in("owner")

    page.goto(f"/portal/t/acme/calls/{call.pk}/")

    note = page.locator(".unheard")
    expect(note).to_contain_text("no event webhook")
    note.get_by_role("link", name="Set an event webhook").click()
    expect(page).to_have_url(re.compile(r"/settings/webhooks/$"))
