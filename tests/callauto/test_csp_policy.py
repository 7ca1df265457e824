"""callauto.csp_policy: the Content-Security-Policy header is django-csp's own, built once
for the settings in force rather than on every response (issue 15), and rebuilt when
the settings change."""

import pytest
from csp import middleware as csp_middleware
from csp.constants import NONE
from csp.utils import build_policy
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_header_is_django_csps_built_once(client, tenant, user, monkeypatch):
    client.force_login(user)
    builds = []
    original = csp_middleware.build_policy
    monkeypatch.setattr(
        csp_middleware, "build_policy", lambda **kw: builds.append(kw) or original(**kw)
    )
    url = reverse("portal:dashboard", args=[tenant.slug])

    headers = [client.get(url)["Content-Security-Policy"] for _ in range(3)]

    assert headers == [build_policy()] * 3
    assert "default-src 'self'" in headers[0]
    assert builds == []  # django-csp's per-response build was not needed


def test_a_changed_policy_is_served_at_once(client, tenant, user, settings):
    client.force_login(user)
    url = reverse("portal:dashboard", args=[tenant.slug])
    client.get(url)

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [NONE]}}

    assert client.get(url)["Content-Security-Policy"] == "default-src 'none'"
