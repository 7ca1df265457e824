"""Issue 17, item 5: what is about a call links to it (appointment attempts, recordings,
deliveries); the call page links back to its appointment and campaign, its recordings and
its deliveries; ids are copyable."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from calls.models import Call, CallConnection
from recordings.models import Recording
from reminders.models import Attempt
from tests.factories import make_call_delivery
from tests.reminders.conftest import acme, book, plan  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reminder_call(acme, plan):  # noqa: F811
    """A reminder call with a recording and a callback delivery."""
    appointment = book(acme, plan, external_id="A-7")
    call = Call.unscoped.create(tenant=acme, direction=Call.Direction.OUTBOUND)
    CallConnection.unscoped.create(tenant=acme, call=call)
    Attempt.unscoped.create(
        tenant=acme,
        appointment=appointment,
        reminder_index=0,
        attempt_number=1,
        due_at=timezone.now(),
        dialed_at=timezone.now(),
        server_call_id=call.server_call_id,
    )
    Recording.unscoped.create(tenant=acme, call=call, started_by="app")
    return call


def test_the_call_page_links_everything_about_the_call_and_back(reminder_call, log_in, page):
    call = reminder_call
    make_call_delivery(call.tenant, call)
    log_in("owner")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    page.goto("/portal/t/acme/reminders/appointments/")
    page.get_by_role("link", name="A-7").click()
    page.locator("table").last.get_by_role("link").first.click()  # the attempt's call

    expect(page).to_have_url(re.compile(rf"/calls/{call.pk}/$"))
    expect(page.get_by_role("link", name="A-7")).to_be_visible()
    expect(page.get_by_role("link", name="Clinic")).to_be_visible()
    page.locator("#server-call-id + button.copy").click()
    expect(page.locator("#server-call-id + button.copy")).to_have_text("Copied")

    page.get_by_role("link", name="on the Recordings page").click()
    expect(page.locator("table.recordings tbody tr")).to_have_count(1)
    page.locator("table.recordings a.call-link").click()
    expect(page).to_have_url(re.compile(rf"/calls/{call.pk}/$"))

    page.get_by_role("link", name="on the Deliveries page").click()
    expect(page.locator("main table").last.locator("tbody tr")).to_have_count(1)
    page.locator("main table").last.locator("tbody tr a").first.click()
    expect(page).to_have_url(re.compile(rf"/calls/{call.pk}/$"))
