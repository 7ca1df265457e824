"""ACS HMAC-SHA256 authentication over raw HTTP (ACS-WIRE.md §2)."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tenants import services
from tenants.models import AccessKey, Tenant
from tests.acs_signing import sign_headers
from tests.conftest import key_of

pytestmark = pytest.mark.django_db

UNKNOWN_CALL = "/t/acme/calling/callConnections/no-such-call?api-version=2026-03-12"


def send(client, method, target, *, key, body=b"", host="testserver/t/acme", **sign_kwargs):
    headers = sign_headers(method, target, body, key, host, **sign_kwargs)
    return send_with(client, method, target, headers, body)


def send_with(client, method, target, headers, body=b""):
    extra = {"RAW_URI": target}
    return client.generic(
        method,
        target,
        data=body,
        content_type="application/json" if body else None,
        headers=headers,
        **extra,
    )


def assert_rejected(response, status=401):
    assert response.status_code == status
    assert "Retry-After" not in response.headers
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    return error


def test_a_request_signed_with_the_primary_key_is_authenticated(client, tenant):
    response = send(client, "GET", UNKNOWN_CALL, key=key_of(tenant))

    assert response.status_code == 404  # authenticated: the call simply does not exist
    assert response.json()["error"]["code"]


def test_the_secondary_key_is_accepted_too(client, tenant):
    response = send(client, "GET", UNKNOWN_CALL, key=key_of(tenant, AccessKey.Name.SECONDARY))

    assert response.status_code == 404


def test_a_percent_encoded_target_is_verified_as_sent(client, tenant):
    target = (
        "/t/acme/calling/callConnections/abc/participants/4%3A%2B14255550123?api-version=2026-03-12"
    )
    response = send(client, "GET", target, key=key_of(tenant))

    assert response.status_code == 404


def test_a_signature_over_the_decoded_target_is_refused(client, tenant):
    raw = "/t/acme/calling/callConnections/abc/participants/4%3A%2B14255550123"
    headers = sign_headers(
        "GET",
        "/t/acme/calling/callConnections/abc/participants/4:+14255550123",
        b"",
        key_of(tenant),
        "testserver/t/acme",
    )

    assert_rejected(send_with(client, "GET", raw, headers))


def test_a_tampered_body_is_refused(client, tenant):
    body = json.dumps({"callbackUri": "https://example.com/cb"}).encode()
    headers = sign_headers("POST", UNKNOWN_CALL, body, key_of(tenant), "testserver/t/acme")

    response = send_with(client, "POST", UNKNOWN_CALL, headers, body.replace(b"example", b"evil"))

    assert assert_rejected(response)["code"] == "7509"


def test_a_body_hash_that_matches_a_different_body_is_refused(client, tenant):
    headers = sign_headers("POST", UNKNOWN_CALL, b"{}", key_of(tenant), "testserver/t/acme")

    assert_rejected(send_with(client, "POST", UNKNOWN_CALL, headers, b'{"a": 1}'))


@pytest.mark.parametrize("minutes", [-6, 6])
def test_a_date_outside_five_minutes_is_refused(client, tenant, minutes):
    date = format_datetime(datetime.now(UTC) + timedelta(minutes=minutes), usegmt=True)

    error = assert_rejected(send(client, "GET", UNKNOWN_CALL, key=key_of(tenant), date=date))

    assert "x-ms-date" in error["message"]


def test_a_date_within_the_allowed_skew_is_accepted(client, tenant):
    date = format_datetime(datetime.now(UTC) - timedelta(minutes=4), usegmt=True)

    assert send(client, "GET", UNKNOWN_CALL, key=key_of(tenant), date=date).status_code == 404


@pytest.mark.parametrize("missing", ["Authorization", "x-ms-date", "x-ms-content-sha256"])
def test_a_request_missing_a_signed_header_is_refused(client, tenant, missing):
    headers = sign_headers("GET", UNKNOWN_CALL, b"", key_of(tenant), "testserver/t/acme")
    del headers[missing]

    assert_rejected(send_with(client, "GET", UNKNOWN_CALL, headers))


def test_a_malformed_authorization_header_is_refused(client, tenant):
    headers = sign_headers("GET", UNKNOWN_CALL, b"", key_of(tenant), "testserver/t/acme")
    headers["Authorization"] = headers["Authorization"].replace("HMAC-SHA256", "Bearer")

    assert_rejected(send_with(client, "GET", UNKNOWN_CALL, headers))


def test_a_signature_for_another_host_is_refused(client, tenant):
    response = send(client, "GET", UNKNOWN_CALL, key=key_of(tenant), host="evil.example/t/acme")

    assert_rejected(response)


def test_a_signature_without_the_tenant_path_in_the_host_is_refused(client, tenant):
    assert_rejected(send(client, "GET", UNKNOWN_CALL, key=key_of(tenant), host="testserver"))


def test_an_unknown_key_is_refused(client, tenant):
    assert_rejected(send(client, "GET", UNKNOWN_CALL, key=AccessKey.generate_secret()))


def test_another_tenants_key_is_refused(client, tenant, other_tenant):
    assert_rejected(send(client, "GET", UNKNOWN_CALL, key=key_of(other_tenant)))


def test_a_regenerated_key_stops_working_while_the_other_keeps_working(client, tenant):
    old_primary = key_of(tenant)

    services.regenerate_access_key(tenant, AccessKey.Name.PRIMARY, actor=None)

    assert_rejected(send(client, "GET", UNKNOWN_CALL, key=old_primary))
    assert send(client, "GET", UNKNOWN_CALL, key=key_of(tenant)).status_code == 404
    secondary = key_of(tenant, AccessKey.Name.SECONDARY)
    assert send(client, "GET", UNKNOWN_CALL, key=secondary).status_code == 404


def test_a_suspended_tenant_answers_403_to_a_valid_signature(client, tenant):
    services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=None)

    response = send(client, "GET", UNKNOWN_CALL, key=key_of(tenant))

    assert_rejected(response, status=403)


def test_a_suspended_tenant_still_answers_401_to_a_bad_signature(client, tenant):
    services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=None)

    assert_rejected(send(client, "GET", UNKNOWN_CALL, key=AccessKey.generate_secret()))


def test_the_recording_host_variant_signed_for_the_endpoint_host_is_accepted(client, tenant):
    # Recording downloads reach another host; the SDK sends x-ms-host (no port) and signs
    # the ACS endpoint's own host.
    headers = sign_headers("GET", UNKNOWN_CALL, b"", key_of(tenant), "acs.example/t/acme")
    headers["x-ms-host"] = "acs.example"

    assert send_with(client, "GET", UNKNOWN_CALL, headers).status_code == 404


def test_an_unknown_route_under_calling_answers_404_in_the_error_shape(client, tenant):
    target = "/t/acme/calling/noSuchThing:frobnicate?api-version=2026-03-12"

    response = send(client, "POST", target, key=key_of(tenant), body=b"{}")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "UnknownRoute"


def test_an_unknown_tenant_answers_404_in_the_error_shape(client, db):
    response = client.get("/t/nobody/calling/callConnections/x?api-version=2026-03-12")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


def test_a_host_we_do_not_serve_answers_400_in_the_error_shape(client, tenant):
    response = client.get(UNKNOWN_CALL, headers={"host": "evil.example"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
