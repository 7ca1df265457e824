"""The served OpenAPI schema (`/t/<slug>/api/v1/schema`) is made once per process and is
the same for every tenant: no tenant's data in it, and byte for byte what drf-spectacular's
own view answers for each format, language and version a client may ask for."""

import json
from unittest import mock

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView

from reminders.api.views import SchemaView
from tenants.api.schema import rendered_schema
from tests.acs_signing import sign_headers
from tests.conftest import key_of

pytestmark = pytest.mark.django_db


def get_schema(client, tenant, query: str = "", accept: str | None = None):
    target = f"/t/{tenant.slug}/api/v1/schema{query}"
    headers = sign_headers("GET", target, b"", key_of(tenant), f"testserver/t/{tenant.slug}")
    if accept:
        headers["Accept"] = accept
    return client.get(target, headers=headers, RAW_URI=target)


def test_two_tenants_get_the_same_tenant_free_schema_generated_once(client, tenant, other_tenant):
    rendered_schema.cache_clear()
    with mock.patch.object(
        SchemaGenerator, "get_schema", autospec=True, side_effect=SchemaGenerator.get_schema
    ) as generate:
        mine = get_schema(client, tenant, "?format=json")
        theirs = get_schema(client, other_tenant, "?format=json")

    assert mine.status_code == theirs.status_code == 200
    assert generate.call_count == 1
    assert mine.content == theirs.content
    body = mine.content.decode()
    for slug in (tenant.slug, other_tenant.slug):
        assert f"/t/{slug}/" not in body
        assert tenant.name not in body
        assert other_tenant.name not in body
    paths = json.loads(body)["paths"]
    assert paths
    assert all(path.startswith("/t/{tenant_slug}/api/v1/") for path in paths)


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ("", None),
        ("?format=json", None),
        ("", "application/json; indent=2"),
        ("", "application/yaml"),
        ("?lang=de", None),
        ("?version=7&format=json", None),
    ],
)
def test_the_cached_schema_is_what_the_uncached_view_answers(
    client, tenant, other_tenant, monkeypatch, query, accept
):
    rendered_schema.cache_clear()
    # The cache is filled by another tenant, with the default variant first.
    get_schema(client, other_tenant)
    get_schema(client, other_tenant, query, accept)
    cached = get_schema(client, tenant, query, accept)
    monkeypatch.setattr(SchemaView, "_get_schema_response", SpectacularAPIView._get_schema_response)
    uncached = get_schema(client, tenant, query, accept)

    assert cached.status_code == uncached.status_code == 200
    assert cached.content == uncached.content
    for header in ("Content-Type", "Content-Disposition", "Vary", "Allow"):
        assert cached.headers.get(header) == uncached.headers.get(header), header
