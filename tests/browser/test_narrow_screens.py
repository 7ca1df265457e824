"""Issue 17, item 10: at 390 px every list's whole row opens its item, secondary columns
fold under the first cell as "name: value" lines, and no button is cut off: each lies on
the screen, or inside a box that scrolls to it; the page never pans sideways."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from calls import softphone
from calls.models import Call
from recordings.models import Recording
from tenants import services as tenant_services
from tenants.models import Membership
from tests.factories import add_member, make_call_delivery
from tests.reminders.conftest import acme, book, plan  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 390
LISTS = [
    "calls/", "recordings/", "deliveries/?state=pending", "audit/", "settings/members/",
    "settings/keys/", "settings/numbers/", "settings/callees/", "settings/webhooks/",
    "reminders/plans/", "reminders/appointments/", "reminders/imports/", "softphone/",
    "reminders/report/", "notifications/", "usage/", "settings/trunks/", "",
]  # fmt: skip

# Every visible control in the page's main part that a finger cannot reach: off the screen
# and not inside a box that scrolls to it.
CUT_OFF = """(width) => {
  const cut = [];
  for (const el of document.querySelectorAll(
    "main button, main a.button, main input, main select, main audio"
  )) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
    let scroller = el.parentElement;
    while (scroller && !(["auto", "scroll"].includes(getComputedStyle(scroller).overflowX)
                         && scroller.scrollWidth > scroller.clientWidth)) {
      scroller = scroller.parentElement;
    }
    const frame = scroller ? scroller.getBoundingClientRect() : { left: 0, right: width };
    const left = frame.left - (scroller ? scroller.scrollLeft : 0);
    const right = scroller ? left + scroller.scrollWidth : width;
    if (box.left < left - 0.5 || box.right > right + 0.5) {
      const name = (el.textContent || el.name || "").trim();
      cut.push(`${el.tagName} "${name}" ${box.left}-${box.right}`);
    }
  }
  return cut;
}"""


# A button 380 px from the left edge (set through the CSSOM: the CSP refuses style="").
PUSHED_OFF = """() => {
  const line = document.createElement("p");
  line.style.marginLeft = "380px";
  line.appendChild(document.createElement("button")).textContent = "Off screen";
  document.querySelector("main").appendChild(line);
}"""


def folded(page: Page, cell) -> str:
    """The "name: " a folded cell shows before its value."""
    return cell.evaluate("td => getComputedStyle(td, '::before').content")


def test_at_390_px_no_list_cuts_a_button_off_or_pans_sideways(acme, plan, log_in):  # noqa: F811
    call = Call.unscoped.create(tenant=acme, direction=Call.Direction.OUTBOUND)
    Recording.unscoped.create(tenant=acme, call=call, started_by="app")
    make_call_delivery(acme, call, url="https://app.example.com/callbacks/a-very-long-path/x")
    appointment = book(acme, plan, starts_in=timedelta(days=1))
    add_member(acme, Membership.Role.VIEWER, "a-member-with-a-rather-long-name")
    softphone.add_identity(acme, "+14255550199", actor=None)
    tenant_services.add_phone_number(acme, "+14255550101", actor=None)
    page = log_in("owner")
    page.set_viewport_size({"width": WIDTH, "height": 844})

    pages = [*LISTS, f"calls/{call.pk}/", f"reminders/appointments/{appointment.pk}/"]
    for path in pages:
        page.goto(f"/portal/t/acme/{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, path
        assert page.evaluate(CUT_OFF, WIDTH) == [], path

    # The check sees a button pushed off the screen (so an empty answer above means it).
    page.evaluate(PUSHED_OFF)
    assert page.evaluate(CUT_OFF, WIDTH)[0].startswith('BUTTON "Off screen"')


def test_at_390_px_a_row_folds_its_columns_and_opens_its_item(acme, log_in, screenshot):  # noqa: F811
    call = Call.unscoped.create(tenant=acme, direction=Call.Direction.OUTBOUND)
    make_call_delivery(acme, call)
    page = log_in("owner")
    page.set_viewport_size({"width": WIDTH, "height": 844})
    page.goto("/portal/t/acme/calls/")

    row = page.locator("table.calls tbody tr").first
    direction = row.locator("td").nth(1)
    expect(direction).to_be_visible()
    expect(page.locator("table.calls thead")).to_be_hidden()
    assert folded(page, direction) == '"Direction: "'
    screenshot(page, "calls-phone")
    box = direction.bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= WIDTH
    # Folded under the first cell: on a line below it, not beside it.
    assert box["y"] >= row.locator("td").first.bounding_box()["y"] + 10
    direction.click()
    expect(page).to_have_url(re.compile(rf"/calls/{call.pk}/$"))

    # A list that is not marked by hand (Deliveries) gets its whole-row link too.
    page.goto("/portal/t/acme/deliveries/?state=pending")
    state = page.locator("table.deliveries tbody tr").first.locator("td").nth(2)
    assert folded(page, state) == '"State: "'
    state.click()
    expect(page).to_have_url(re.compile(rf"/calls/{call.pk}/$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_on_a_desktop_lists_stay_tables(acme, log_in):  # noqa: F811
    Call.unscoped.create(tenant=acme, direction=Call.Direction.OUTBOUND)
    page = log_in("owner")
    page.goto("/portal/t/acme/calls/")

    expect(page.locator("table.calls thead")).to_be_visible()
    direction = page.locator("table.calls tbody tr").first.locator("td").nth(1)
    assert folded(page, direction) == "none"


def test_live_rows_arrive_folded_and_unchanged_rows_are_not_swapped(tenant, log_in):
    Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    page = log_in("owner")
    page.set_viewport_size({"width": WIDTH, "height": 844})
    page.goto("/portal/t/acme/calls/")
    rows = page.locator("#calls-rows tr")
    expect(rows).to_have_count(1)
    page.evaluate("() => { document.getElementById('calls-rows').dataset.mark = 'first'; }")

    page.wait_for_timeout(7_000)  # two polls of the live list with nothing new
    expect(page.locator("#calls-rows[data-mark=first]")).to_have_count(1)
    Call.unscoped.create(tenant=tenant, direction=Call.Direction.INBOUND)
    expect(rows).to_have_count(2, timeout=10_000)
    newest = rows.first
    assert folded(page, newest.locator("td").nth(1)) == '"Direction: "'
    expect(newest).to_have_attribute("data-href", re.compile(r"/calls/\d+/$"))
