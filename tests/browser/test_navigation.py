"""Issue 17, item 4: a grouped sidebar with the current page highlighted; under 768 px a
menu button opens it; the tenant switcher stays."""

import re

import pytest
from playwright.sync_api import expect

from calls.models import Call

pytestmark = pytest.mark.django_db(transaction=True)

GROUPS = ["Overview", "Calls", "Campaigns", "Recordings", "Developers", "Settings"]


def test_the_sidebar_groups_the_pages_and_highlights_the_current_one(tenant, log_in, screenshot):
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    page = log_in("owner")
    sidebar = page.get_by_role("navigation", name="Sections")

    expect(sidebar.locator("h2")).to_have_text(GROUPS)
    expect(page.locator("button.menu-toggle")).to_be_hidden()
    expect(sidebar.locator("[aria-current=page]")).to_have_text("Dashboard")

    sidebar.get_by_role("link", name="Keys").click()
    expect(sidebar.locator("[aria-current=page]")).to_have_text("Keys")
    expect(sidebar.locator(".nav-developers [aria-current=page]")).to_have_count(1)

    page.goto(f"/portal/t/acme/calls/{call.pk}/")  # a page under Calls highlights Calls
    expect(sidebar.locator("[aria-current=page]")).to_have_text("Calls")
    expect(page.locator(".switcher summary")).to_have_text("Acme")
    screenshot(page, "sidebar")


def test_on_a_phone_a_menu_button_opens_the_sidebar(tenant, log_in, page):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in("owner")
    sidebar = page.get_by_role("navigation", name="Sections")
    button = page.get_by_role("button", name="Menu")

    expect(sidebar).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(sidebar).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    sidebar.get_by_role("link", name="Recordings").click()

    expect(page).to_have_url(re.compile(r"/portal/t/acme/recordings/$"))
    expect(sidebar).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
