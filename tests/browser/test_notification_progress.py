"""The live progress page in a real browser: the operator confirms the launch in two
steps, then watches the counts and the chart change while the calls complete, without
reloading the page."""

import pytest
from playwright.sync_api import expect

from notifications import dispatcher, services
from tests.notifications.conftest import (  # noqa: F401
    _no_kick,
    acme,
    audience,
    household,
    notify,
    wired,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wired")]


def test_the_progress_page_updates_while_calls_complete(request, gateway, log_in, screenshot):
    org, make = request.getfixturevalue("acme"), request.getfixturevalue("notify")
    for n in (1, 2, 3):
        household(org, n, area=f"zone-{n}", keys=[(1, "1", "prompt")])
    # Life-safety: quiet hours do not depend on when the test runs.
    everyone = services.save_audience(org, actor=None, name="Everyone", everyone=True)
    notification = make(life_safety=True, audience=everyone)
    page = log_in("owner")
    page.goto(f"/portal/t/{org.slug}/notifications/{notification.pk}/")

    page.click("#launch")
    assert page.inner_text("#confirm-size") == "3"
    page.click("#confirm-launch")
    page.wait_for_selector("#notification-live")
    assert page.inner_text("#count-remaining") == "3"
    assert page.locator("#live-controls button").count() == 2  # pause, cancel
    page.evaluate("window.notReloaded = true")

    assert dispatcher.tick(org) == 3
    gateway.advance(120)

    expect(page.locator("#count-acknowledged")).to_have_text("3", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.inner_text("#count-remaining") == "0"
    assert page.inner_text("#live-status") == "completed"
    # The heading and the controls outside the refreshed part follow without a reload.
    expect(page.locator("#title-status")).to_have_text("(completed)", timeout=5_000)
    assert page.locator("#live-controls").count() == 0
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#zones tbody tr").count() == 3
    screenshot(page, "notification-progress")
