"""Issue 17, items 1 and 14: the API reference renders under our Content Security Policy, the
portal's Developers page links to it with the connection string, webhooks and JWKS, and the
reference shows the automation endpoints (test callees, event webhooks, incoming calls)."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

BROKEN = re.compile(r"violates .*(style|script|worker|default)-src")


def test_the_developers_page_leads_to_an_api_reference_that_renders_under_the_csp(
    tenant, log_in, screenshot
):
    page = log_in("owner")
    refused = []  # styles, scripts, workers refused by the CSP (Redoc's logo from its CDN is)
    page.on("console", lambda m: refused.append(m.text) if BROKEN.search(m.text) else None)

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Developers").click()

    expect(page.locator("h1")).to_have_text("Developers")
    expect(page.locator("#connection-string")).to_contain_text("endpoint=http")
    expect(page.get_by_role("link", name="JWKS")).to_have_attribute(
        "href", re.compile(r"/calling/keys$")
    )
    expect(page.locator("pre.quickstart")).to_contain_text("examples/quickstart.py")
    screenshot(page, "developers")
    page.get_by_role("link", name="API reference").click()

    expect(page).to_have_url(re.compile(r"/t/acme/api/v1/docs$"))
    expect(page.get_by_text("Something went wrong")).to_have_count(0)
    # Redoc fetches and lays out the whole schema first: slow on a loaded machine.
    heading = page.get_by_role("heading", name=re.compile("callauto", re.I)).first
    expect(heading).to_be_visible(timeout=30_000)
    expect(page.get_by_text("/t/{tenant_slug}/api/v1/recordings").first).to_be_attached()
    # Item 14: what was portal-only (test callees, the event webhook, ringing a number) is in
    # the reference a developer reads, so automation needs no scraping.
    for route in ("test-callees", "event-webhooks", "incoming-calls"):
        expect(page.get_by_text(f"/t/{{tenant_slug}}/api/v1/{route}").first).to_be_attached()
    assert refused == []
