"""Portal security: login lockout, Content Security Policy, CSRF on every portal view,
and the production cookie/HSTS settings."""

import re
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from callauto.client_ip import client_ip
from tests.callauto.test_settings import PRODUCTION, run_manage

ROOT = Path(__file__).resolve().parents[2]
LOGIN = reverse("login")
GOOD, BAD = "correct horse battery", "not it"


def log_in(client, password: str, ip: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": "owner", "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_five_wrong_passwords_lock_the_user_out_with_a_lockout_page(client, tenant, user):
    for _ in range(5):
        log_in(client, BAD)

    response = log_in(client, GOOD)

    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_four_wrong_passwords_still_let_the_right_one_in(client, tenant, user):
    for _ in range(4):
        log_in(client, BAD)

    response = log_in(client, GOOD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_a_lockout_holds_for_one_address_not_for_the_user_everywhere(client, tenant, user):
    for _ in range(5):
        log_in(client, BAD, ip="10.0.0.1")

    response = log_in(client, GOOD, ip="10.0.0.2")

    assert response.status_code == 302


def test_behind_the_tls_proxy_the_address_is_the_one_the_proxy_saw(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )

    assert client_ip(request) == "203.0.113.7"


def test_without_a_proxy_forwarded_headers_are_ignored(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6")

    assert client_ip(request) == "10.9.9.9"


@pytest.mark.django_db
def test_portal_pages_carry_a_content_security_policy_without_inline_script(client, tenant, user):
    client.force_login(user)

    policy = client.get(reverse("portal:dashboard", args=["acme"]))["Content-Security-Policy"]

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["media-src"] == "'self' blob:"
    assert "unsafe-inline" not in policy


INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),  # a script without src
    re.compile(r"\son[a-z]+\s*=", re.I),  # onclick= and friends
    re.compile(r"\sstyle\s*=", re.I),  # style attributes (style-src 'self')
    re.compile(r"javascript:", re.I),
]


@pytest.mark.parametrize("template", sorted(ROOT.glob("templates/**/*.html")), ids=lambda p: p.name)
def test_templates_have_no_inline_script_or_style(template):
    text = template.read_text()

    assert [p.pattern for p in INLINE if p.search(text)] == []


def _portal_views(patterns, namespace: str = "") -> list[tuple[str, object]]:
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            found += _portal_views(entry.url_patterns, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and namespace == "portal":
            found.append((entry.name, entry.callback))
    return found


def test_no_portal_view_is_exempt_from_csrf():
    views = _portal_views(get_resolver().url_patterns)

    assert len(views) > 10
    assert [name for name, view in views if getattr(view, "csrf_exempt", False)] == []


def test_production_settings_use_secure_cookies_hsts_and_an_https_redirect():
    printed = run_manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS >= 31536000, "
        "s.SESSION_COOKIE_HTTPONLY)",
        **PRODUCTION,
    )

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.split()[-5:] == ["True"] * 5
