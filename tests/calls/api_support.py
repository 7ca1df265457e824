"""What the bad-input tests of the Call Automation routes share: signed raw requests,
row snapshots (to prove nothing changed), and the ACS error-shape assertion."""

import json

from django.db import models
from django.test import Client

from tenants.models import Tenant
from tests.acs_signing import sign_headers
from tests.conftest import key_of

TEAMS = {"microsoftTeamsUser": {"userId": "x"}}


def phone(number: str) -> dict:
    return {"rawId": f"4:{number}", "phoneNumber": {"value": number}}


def signed(client: Client, tenant: Tenant, method: str, path: str, body: object = None):
    """Send `body` (a JSON value, raw bytes, or None) to /t/<slug>/calling/<path>,
    HMAC-signed with the tenant's primary key, the raw target passed as gunicorn does."""
    target = f"/t/{tenant.slug}/calling/{path}?api-version=2026-03-12"
    if isinstance(body, bytes):
        raw = body
    elif body is None:
        raw = b""
    else:
        raw = json.dumps(body).encode()
    headers = sign_headers(method, target, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
    return client.generic(
        method,
        target,
        data=raw,
        content_type="application/json" if raw else None,
        headers=headers,
        RAW_URI=target,
    )


def snapshot(tables: tuple[type[models.Model], ...]) -> dict:
    return {model.__name__: list(model.unscoped.order_by("pk").values()) for model in tables}


def assert_error(response, status: int, code: str | None = None, mentions: str = "") -> dict:
    """The answer is the ACS error shape with `status` (never Retry-After on a 4xx)."""
    assert response.status_code == status, response.content
    assert "Retry-After" not in response.headers
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    if code:
        assert error["code"] == code
    assert mentions in error["message"]
    return error
