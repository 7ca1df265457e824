"""Hostile request bodies on every JSON route of both APIs: nesting past what the parser
allows and bodies past the size cap answer a 400 in the ACS error shape, DEBUG or not,
never a RecursionError (500) or Django's HTML page (issue 12, defect 7)."""

import json

import pytest
from django.conf import settings as django_settings

from tenants.models import Membership
from tests.acs_signing import sign_headers
from tests.api_routes import api_routes, check_routes_resolve
from tests.calls.api_support import assert_error
from tests.conftest import key_of

pytestmark = pytest.mark.django_db

MAX_DEPTH = 32  # the documented cap (callauto.parsers)
DEEP = ("[" * 5000 + "]" * 5000).encode()  # 10 KB, 5,000 levels
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def signed(client, tenant, method: str, path: str, raw: bytes):
    headers = sign_headers(method, path, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
    return client.generic(
        method, path, data=raw, content_type="application/json", headers=headers, RAW_URI=path
    )


def nested(depth: int) -> bytes:
    """A createCall-shaped body whose `targets` nest `depth` levels in all."""
    inner: object = {"rawId": "4:+14255550123"}
    for _ in range(depth - 3):
        inner = [inner]
    body = {"targets": [inner], "callbackUri": "https://example.com/cb"}
    return json.dumps(body).encode()


def test_the_route_list_covers_both_apis(tenant):
    check_routes_resolve(tenant.slug)
    routes = api_routes()
    assert sum(route.is_calling for route in routes) > 30
    assert sum(not route.is_calling for route in routes) > 20


@pytest.mark.parametrize("route", api_routes(), ids=lambda route: route.template.split("/", 2)[2])
def test_a_body_nested_5000_deep_never_reaches_a_500_on_any_route(client, tenant, route):
    client.raise_request_exception = False
    for method in WRITES:
        response = signed(client, tenant, method, route.path(tenant.slug), DEEP)

        assert response.status_code < 500, (method, response.content)
        if response.status_code >= 400:  # a route may ignore the body (reminders/dispatch)
            assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "path",
    [
        "calling/callConnections",
        "calling/callConnections/1:play",
        "calling/recordings",
        "api/v1/contacts",
        "api/v1/appointments/bulk",
        "api/v1/deliveries/redeliver",
        "api/v1/imports",
    ],
)
def test_a_body_nested_5000_deep_is_refused_as_invalid_json(client, tenant, path):
    response = signed(client, tenant, "POST", f"/t/acme/{path}", DEEP)

    assert_error(response, 400, "InvalidJson", mentions=f"at most {MAX_DEPTH} levels")


def test_a_body_nested_below_the_interpreter_limit_but_past_the_cap_is_refused(client, tenant):
    response = signed(client, tenant, "POST", "/t/acme/calling/callConnections", nested(900))

    assert_error(response, 400, "InvalidJson")


def test_a_body_nested_as_deep_as_allowed_gets_to_validation(client, tenant):
    response = signed(client, tenant, "POST", "/t/acme/calling/callConnections", nested(MAX_DEPTH))

    error = assert_error(response, 400, "BadRequest")
    assert "targets[0]" in error["message"]


@pytest.mark.parametrize("debug", [False, True])
def test_a_20_mb_body_is_a_400_in_the_acs_shape_with_or_without_debug(
    client, tenant, settings, debug
):
    settings.DEBUG = debug
    body = b'{"pad": "' + b"x" * (20 * 1024 * 1024) + b'"}'

    response = signed(client, tenant, "POST", "/t/acme/calling/callConnections", body)

    error = assert_error(response, 400, "RequestBodyTooLarge")
    assert f"{django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes" in error["message"]


def test_a_20_mb_body_from_a_portal_session_is_a_400_in_the_acs_shape(
    client, tenant, settings, member_client
):
    settings.DEBUG = True
    member_client(Membership.Role.OPERATOR)
    body = b'{"name": "' + b"x" * (20 * 1024 * 1024) + b'"}'

    response = client.post("/t/acme/api/v1/contacts", data=body, content_type="application/json")

    assert_error(response, 400, "RequestBodyTooLarge")


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("api/v1/plans", b'{"name": "P", "callerId": "+1425555\\u0000"}'),
        ("api/v1/plans", b'{"name": "P", "callerId": "x", "retryPolicy": {"busy\\u0000": 1}}'),
        ("api/v1/contacts", b'{"name": "\\ud800", "phone": "+14255550123"}'),
        ("calling/recordings", b'{"callLocator": {"kind": "x\\udfff"}}'),
    ],
)
def test_strings_the_database_cannot_hold_are_refused_on_any_field(client, tenant, path, raw):
    response = signed(client, tenant, "POST", f"/t/acme/{path}", raw)

    assert_error(response, 400, "InvalidJson", mentions="NUL characters or unpaired surrogates")


@pytest.mark.parametrize(
    "path",
    [
        "api/v1/deliveries?url=%00",
        "api/v1/deliveries?serverCallId=a%00b",
        "api/v1/recordings?serverCallId=%00",
        "calling/callConnections/x/participants?x=%00",
    ],
)
def test_a_nul_in_the_query_string_is_a_400(client, tenant, path):
    response = signed(client, tenant, "GET", f"/t/acme/{path}", b"")

    assert_error(response, 400, "BadRequest", mentions="NUL")


def test_a_recording_id_with_a_nul_is_not_found(client, tenant):
    response = signed(client, tenant, "GET", "/t/acme/api/v1/recordings/a%00b", b"")

    assert_error(response, 404, "NotFound")
