"""callauto.negotiation: a plain JSON Accept (the SDK's) skips DRF's header parsing and
gets the JSON renderer; every other Accept is negotiated by DRF as before."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation

from tests.acs_signing import sign_headers
from tests.conftest import key_of

pytestmark = pytest.mark.django_db


def get_tenant(client, tenant, accept: str | None):
    target = f"/t/{tenant.slug}/api/v1/tenant"
    headers = sign_headers("GET", target, b"", key_of(tenant), f"testserver/t/{tenant.slug}")
    if accept is not None:
        headers["Accept"] = accept
    return client.get(target, headers=headers, RAW_URI=target)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_a_plain_json_accept_is_not_parsed(client, tenant, accept, monkeypatch):
    negotiated = []
    original = DefaultContentNegotiation.select_renderer
    monkeypatch.setattr(
        DefaultContentNegotiation,
        "select_renderer",
        lambda self, *a, **kw: negotiated.append(a) or original(self, *a, **kw),
    )

    response = get_tenant(client, tenant, accept)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert negotiated == []


@pytest.mark.parametrize(
    ("accept", "status"),
    [("text/html", 406), ("application/json; q=0.9, text/html", 200), ("application/*", 200)],
)
def test_other_accepts_are_negotiated_as_before(client, tenant, accept, status):
    response = get_tenant(client, tenant, accept)

    assert response.status_code == status, response.content
