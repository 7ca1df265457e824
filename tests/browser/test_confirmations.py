"""Issue 17, item 3: destructive actions ask first, naming what they act on; regenerating a
key keeps the old secret for the chosen grace period and says until when."""

import re

import pytest
from playwright.sync_api import expect

from tenants.models import AccessKey, Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_regenerating_a_key_asks_first_and_shows_when_the_old_secret_expires(
    tenant, log_in, screenshot
):
    before = AccessKey.objects.for_tenant(tenant).get(name="primary").secret
    page = log_in("owner")
    page.goto("/portal/t/acme/settings/keys/")
    asked = []

    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_label("When the old primary secret stops working").select_option("in 24 hours")
    page.locator("tr", has_text="Primary").get_by_role("button", name="Regenerate").click()

    expect(page.locator("#grace-primary")).to_have_count(0)
    assert "Regenerate the primary key?" in asked[0]
    assert AccessKey.objects.for_tenant(tenant).get(name="primary").secret == before

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("When the old primary secret stops working").select_option("in 24 hours")
    page.locator("tr", has_text="Primary").get_by_role("button", name="Regenerate").click()

    expect(page.locator(".flash")).to_contain_text("its old secret works until")
    expect(page.locator("#grace-primary")).to_contain_text(re.compile(r"in (23\s+hours|1\s+day)"))
    assert AccessKey.objects.for_tenant(tenant).get(name="primary").secret != before
    screenshot(page, "access-keys")


def test_removing_a_member_names_them_and_does_nothing_when_declined(tenant, log_in):
    Membership.unscoped.create(
        tenant=tenant, user=UserFactory(username="carol"), role=Membership.Role.VIEWER
    )
    page = log_in("owner")
    page.goto("/portal/t/acme/settings/members/")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))

    page.locator("tr", has_text="carol").get_by_role("button", name="Remove").click()

    assert "Remove carol from Acme?" in asked[0]
    expect(page.locator("tr", has_text="carol")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr", has_text="carol").get_by_role("button", name="Remove").click()
    expect(page.locator(".flash")).to_contain_text("Member removed")
    expect(page.locator("tr", has_text="carol")).to_have_count(0)
