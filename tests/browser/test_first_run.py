"""Issue 17, item 13: under DEBUG the login page shows the demo's logins and connection
string, and the operator login it shows reaches /admin/."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_login_page_shows_the_demo_under_debug_and_the_operator_reaches_admin(
    settings, tmp_path, page, screenshot
):
    settings.VAR_DIR = tmp_path
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())

    page.goto("/accounts/login/")
    demo = page.get_by_role("region", name="Demo")
    expect(demo).to_contain_text("endpoint=https://")
    screenshot(page, "login-demo")
    password = (tmp_path / "operator_password").read_text()
    expect(demo).to_contain_text(f"operator / {password}")

    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.goto("/admin/")
    expect(page.locator("#site-name, h1").first).to_be_visible()
    expect(page).to_have_title(re.compile("administration", re.I))


def test_the_login_page_hides_the_demo_without_debug(settings, tmp_path, page):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())

    page.goto("/accounts/login/")

    expect(page.get_by_role("region", name="Demo")).to_have_count(0)
