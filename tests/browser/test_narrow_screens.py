"""Issue 17, item 10 (part): at 390 px a list's whole row opens its item, and the page
never pans sideways (wide tables scroll inside themselves)."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

pytestmark = pytest.mark.django_db(transaction=True)


def test_on_a_phone_tapping_anywhere_on_a_call_row_opens_the_call(tenant, log_in, page):
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in("owner")
    page.goto("/portal/t/acme/calls/")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("table.calls tbody tr").first.locator("td").nth(1).click()  # "Outbound"

    expect(page).to_have_url(re.compile(rf"/calls/{call.pk}/$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
