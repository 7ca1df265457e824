"""`/api/v1/trunks`: CRUD with a write-only password (encrypted at rest), numbers bound to
the trunk, field errors in the ACS shape, another tenant's trunk answering 404, audit."""

import json

import pytest

from tenants import services
from tenants.models import AuditEntry, PhoneNumber, Trunk
from tests.acs_signing import sign_headers
from tests.calls.api_support import assert_error
from tests.conftest import key_of

pytestmark = pytest.mark.django_db

TRUNK = {
    "name": "Carrier A",
    "proxyHost": "sip.example.net",
    "proxyPort": 5070,
    "username": "acme",
    "password": "s3cret",
    "register": True,
    "codecs": "PCMA,PCMU",
    "maxConcurrentCalls": 20,
    "defaultCallerId": "+14255550100",
}


def api(client, tenant, method: str, path: str, body: object = None):
    target = f"/t/{tenant.slug}/api/v1/{path}"
    raw = json.dumps(body).encode() if body is not None else b""
    headers = sign_headers(method, target, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
    return client.generic(
        method, target, data=raw, content_type="application/json" if raw else None,
        headers=headers, RAW_URI=target,
    )  # fmt: skip


def test_a_trunk_is_created_with_its_password_encrypted_and_never_shown(client, tenant):
    response = api(client, tenant, "POST", "trunks", TRUNK)

    assert response.status_code == 201, response.content
    body = response.json()
    assert "password" not in body
    assert body["hasPassword"] is True
    assert body["proxyPort"] == 5070
    assert body["status"]["registration"] == "pending"
    trunk = Trunk.objects.for_tenant(tenant).get(pk=body["id"])
    assert "s3cret" not in trunk.password_encrypted
    assert trunk.password == "s3cret"
    entry = AuditEntry.objects.for_tenant(tenant).get(action="trunk.create")
    assert "s3cret" not in json.dumps(entry.after)


def test_a_trunk_is_listed_read_updated_and_deleted(client, tenant):
    created = api(client, tenant, "POST", "trunks", TRUNK).json()

    listed = api(client, tenant, "GET", "trunks").json()
    assert [t["name"] for t in listed["results"]] == ["Carrier A"]
    changed = api(client, tenant, "PATCH", f"trunks/{created['id']}", {"proxyPort": 5080})
    assert changed.status_code == 200, changed.content
    assert changed.json()["proxyPort"] == 5080
    assert Trunk.objects.for_tenant(tenant).get().password == "s3cret"  # kept when omitted
    assert api(client, tenant, "DELETE", f"trunks/{created['id']}").status_code == 204
    assert not Trunk.objects.for_tenant(tenant).exists()
    actions = set(AuditEntry.objects.for_tenant(tenant).values_list("action", flat=True))
    assert {"trunk.create", "trunk.update", "trunk.delete"} <= actions


def test_a_new_password_is_audited_as_changed_without_its_value(client, tenant):
    created = api(client, tenant, "POST", "trunks", TRUNK).json()

    api(client, tenant, "PATCH", f"trunks/{created['id']}", {"password": "other"})

    entry = AuditEntry.objects.for_tenant(tenant).get(action="trunk.update")
    assert entry.after == {"password": "changed"}
    assert Trunk.objects.for_tenant(tenant).get().password == "other"


def test_numbers_are_bound_to_the_trunk_and_released_from_it(client, tenant, user):
    services.add_phone_number(tenant, "+14255550100", actor=user)
    services.add_phone_number(tenant, "+14255550101", actor=user)
    created = api(client, tenant, "POST", "trunks", {**TRUNK, "phoneNumbers": ["+14255550100"]})
    assert created.json()["phoneNumbers"] == ["+14255550100"]

    api(client, tenant, "PATCH", f"trunks/{created.json()['id']}", {"phoneNumbers": []})

    assert not PhoneNumber.objects.for_tenant(tenant).filter(trunk__isnull=False).exists()


def test_a_trunk_with_numbers_is_not_deleted(client, tenant, user):
    services.add_phone_number(tenant, "+14255550100", actor=user)
    created = api(client, tenant, "POST", "trunks", {**TRUNK, "phoneNumbers": ["+14255550100"]})

    response = api(client, tenant, "DELETE", f"trunks/{created.json()['id']}")

    assert_error(response, 409, mentions="+14255550100")
    assert Trunk.objects.for_tenant(tenant).exists()


def test_bad_trunk_settings_are_refused_field_by_field(client, tenant):
    bad = {**TRUNK, "proxyHost": "not a host!", "proxyPort": 70000, "codecs": "G729",
           "transport": "tls", "defaultCallerId": "abc"}  # fmt: skip

    response = api(client, tenant, "POST", "trunks", bad)

    error = assert_error(response, 400)
    fields = {detail["target"] for detail in error["details"]}
    assert {"proxyPort", "codecs", "transport"} <= fields
    assert not Trunk.objects.for_tenant(tenant).exists()


def test_service_level_errors_name_their_field(client, tenant):
    bad = {**TRUNK, "proxyHost": "not a host!", "defaultCallerId": "abc", "username": ""}

    error = assert_error(api(client, tenant, "POST", "trunks", bad), 400)

    fields = {detail["target"] for detail in error["details"]}
    assert {"proxyHost", "defaultCallerId", "username"} <= fields


def test_a_duplicate_name_and_a_foreign_number_are_refused(client, tenant, other_tenant, user):
    services.add_phone_number(other_tenant, "+14255550199", actor=user)
    api(client, tenant, "POST", "trunks", TRUNK)

    duplicate = api(client, tenant, "POST", "trunks", TRUNK)
    foreign = api(client, tenant, "POST", "trunks",
                  {**TRUNK, "name": "B", "phoneNumbers": ["+14255550199"]})  # fmt: skip

    assert_error(duplicate, 400, mentions="")
    assert_error(foreign, 400)
    assert Trunk.objects.for_tenant(tenant).count() == 1


def test_another_tenants_trunk_answers_404(client, tenant, other_tenant):
    theirs = api(client, other_tenant, "POST", "trunks", TRUNK).json()

    for method, body in (("GET", None), ("PATCH", {"proxyPort": 1}), ("DELETE", None)):
        assert_error(api(client, tenant, method, f"trunks/{theirs['id']}", body), 404)
    assert Trunk.objects.for_tenant(other_tenant).get().proxy_port == 5070
