import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_logs_in_and_lands_on_the_tenant_dashboard(tenant, log_in, screenshot):
    page = log_in("owner")
    assert "/portal/t/acme/" in page.url
    assert page.get_by_text("acme", exact=False).first.is_visible()
    screenshot(page, "dashboard")


def test_a_wrong_password_is_refused_with_a_message(tenant, page):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.get_by_text("didn't match").is_visible()
