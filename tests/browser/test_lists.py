"""Issue 17, items 8 and 9: filter a list and page through it with the filters kept in
the link; lists refresh themselves when a call is placed by someone else (here the SDK)
while the page is open."""

import re

import pytest
from azure.communication.callautomation import PhoneNumberIdentifier
from playwright.sync_api import expect

from calls import call_verbs, server_call_verbs
from calls.identifiers import Identifier
from tenants import services as tenant_services
from tests.calls.api_support import signed
from tests.factories import make_call_delivery
from tests.portal import seeds
from tests.recordings.storage import temporary_recordings_storage

pytestmark = pytest.mark.django_db(transaction=True)

CALLER, CALLEE = "+14255550100", "+14255550123"


def test_calls_filtered_and_paged_keep_the_filter_in_the_link(tenant, log_in, page):
    seeds.calls(tenant, 60)  # from +14255550100, connecting
    for _ in range(3):
        seeds.call(tenant, state="disconnected", end_code=486)
    log_in("owner")

    page.goto("/portal/t/acme/calls/")
    page.select_option("select[name=state]", "connecting")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#calls-rows tr")).to_have_count(50)
    expect(page).to_have_url(re.compile(r"state=connecting"))

    page.get_by_role("link", name="Older →").click()
    expect(page).to_have_url(re.compile(r"state=connecting.*older="))
    expect(page.locator("#calls-rows tr")).to_have_count(10)
    expect(page.locator("select[name=state]")).to_have_value("connecting")
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)

    page.get_by_role("link", name="← Newer").click()
    expect(page.locator("#calls-rows tr")).to_have_count(50)

    page.goto("/portal/t/acme/calls/?end_code=486")
    expect(page.locator("#calls-rows tr")).to_have_count(3)
    page.goto("/portal/t/acme/calls/?end_code=busy")
    expect(page.locator(".errorlist")).to_contain_text("whole number")


def test_deliveries_show_endpoints_grouped_with_tokens_masked(tenant, log_in, page):
    call = seeds.call(tenant)
    for n in range(3):
        make_call_delivery(
            tenant, call, url=f"https://app.example.com/cb/tok{n}x9?sig=secret{n}",
            state="dead", sequence=n + 1,
        )  # fmt: skip
    make_call_delivery(tenant, call, url="https://other.example.com/hook", state="dead", sequence=9)
    log_in("owner")

    page.goto("/portal/t/acme/deliveries/")
    expect(page.locator("table.endpoints tbody tr")).to_have_count(2)
    expect(page.locator("body")).not_to_contain_text("secret")
    page.locator("table.endpoints").get_by_role("link", name="https://app.example.com/cb/…").click()

    expect(page.locator("#delivery-rows tr")).to_have_count(3)
    expect(page.locator("select[name=url]")).to_have_value("https://app.example.com/cb/…")


def test_the_calls_list_and_dashboard_show_a_call_placed_while_they_are_open(
    tenant, sdk_client, callbacks, gateway, log_in, page, browser
):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    log_in("owner")
    page.goto("/portal/t/acme/calls/")
    expect(page.locator("#calls-rows")).to_contain_text("No calls match.")
    dashboard = page.context.new_page()
    dashboard.goto("/portal/t/acme/")
    live_figures = dashboard.locator("#dashboard-live")
    before = live_figures.inner_text()
    deliveries = page.context.new_page()
    deliveries.goto("/portal/t/acme/deliveries/?state=delivered")

    sdk_client().create_call(
        PhoneNumberIdentifier(CALLEE), callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
    )  # fmt: skip

    row = page.locator("#calls-rows tr").first
    expect(row).to_contain_text(CALLER, timeout=15_000)
    expect(row).to_contain_text("Connecting")
    expect(live_figures).not_to_have_text(before, timeout=15_000)

    gateway.advance(2)  # the callee answers
    expect(row).to_contain_text("Connected", timeout=15_000)
    # Its callbacks were delivered to the application: the deliveries list shows them.
    expect(deliveries.locator("#delivery-rows")).to_contain_text("CallConnected", timeout=15_000)


@pytest.fixture
def recordings_dir(tmp_path):
    with temporary_recordings_storage(tmp_path / "recordings") as directory:
        yield directory


def test_an_ended_calls_page_shows_the_recording_file_once_it_is_ready(
    client, tenant, gateway, log_in, recordings_dir
):
    call = server_call_verbs.simulate_p2p_call(
        tenant, caller=Identifier.user("8:acs:customer"), callee=Identifier.user("8:acs:agent")
    )
    gateway.advance(2)
    body = {"callLocator": {"kind": "serverCallLocator", "serverCallId": call.server_call_id}}
    signed(client, tenant, "POST", "recordings", body)
    gateway.advance(3)
    page = log_in("owner")
    page.goto(f"/portal/t/acme/calls/{call.pk}/")
    expect(page.locator("#recording-rows")).to_contain_text("recording…")

    call_verbs.terminate_call(tenant, call.pk, actor=None, message="test over")
    gateway.advance(0.5)  # the call ends, its recording stops and its file is written

    expect(page.locator("#call-live")).to_have_attribute("data-state", "disconnected")
    expect(page.locator("#recording-rows audio")).to_have_count(1, timeout=15_000)
    expect(page.locator("#recording-rows")).not_to_have_attribute("data-live-url", re.compile("."))
