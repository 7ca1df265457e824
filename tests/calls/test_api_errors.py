"""Refused requests on every Call Automation route (ACS-WIRE.md §4, §6): the ACS error
shape, a 4xx that names the problem, no Retry-After, and nothing changed in the database.

Requests are raw signed HTTP through Django's test client; calls are set up through the
services and answered by the gateway's simulated carrier on a virtual clock.
"""

import json

import pytest

from calls import services
from calls.identifiers import Identifier
from calls.models import (
    Call,
    CallConnection,
    CallEvent,
    CarrierCommand,
    Participant,
    SimulatedCallee,
)
from tenants import services as tenant_services
from tests.acs_signing import sign_headers
from tests.conftest import key_of

pytestmark = pytest.mark.django_db

CALLER = "+14255550100"
GLOBEX_CALLER = "+14255550101"
CALLEE = "+14255550123"
NEWCOMER = "+14255550124"
SLOW = "+14255550125"
STRANGER = "+14255550199"
BAD_E164 = "+1555123456"
TEAMS = {"microsoftTeamsUser": {"userId": "x"}}
PENDING = "<the pending invitation>"  # replaced by a real invitation id in the test
TABLES = (Call, CallConnection, Participant, CallEvent, CarrierCommand)


def phone(number: str) -> dict:
    return {"rawId": f"4:{number}", "phoneNumber": {"value": number}}


def snapshot() -> dict:
    return {model.__name__: list(model.unscoped.order_by("pk").values()) for model in TABLES}


def assert_error(response, status: int, code: str | None = None, mentions: str = "") -> dict:
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


@pytest.fixture
def api(client):
    """Send `method` to callConnections`path` as `tenant`, signed with its primary key."""

    def send(tenant, method: str, path: str = "", body: object = None):
        target = f"/t/{tenant.slug}/calling/callConnections{path}?api-version=2026-03-12"
        if body is None:
            raw = b""
        else:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = sign_headers(method, target, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
        return client.generic(
            method,
            target,
            data=raw,
            content_type="application/json" if raw else None,
            headers=headers,
            RAW_URI=target,
        )

    return send


@pytest.fixture
def acme(tenant):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    return tenant


@pytest.fixture
def globex(other_tenant):
    tenant_services.add_phone_number(other_tenant, GLOBEX_CALLER, actor=None)
    return other_tenant


def connected_call(tenant, gateway, caller: str = CALLER) -> CallConnection:
    """A 1:1 call to CALLEE, answered, with a slow invitee (SLOW) still ringing."""
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{SLOW}", answer_after=100)
    connection = services.create_call(
        tenant,
        targets=[Identifier.phone(CALLEE)],
        callback_uri="http://127.0.0.1:9/cb",
        source_caller_id=caller,
    )
    gateway.advance(2)
    services.add_participant(tenant, connection.call_connection_id, target=Identifier.phone(SLOW))
    gateway.advance(1)
    connection.refresh_from_db()
    assert connection.state == CallConnection.State.CONNECTED
    assert Participant.unscoped.get(raw_id=f"4:{SLOW}", call_id=connection.call_id).is_live
    return connection


def pending_invitation(connection: CallConnection) -> str:
    return Participant.unscoped.get(call_id=connection.call_id, raw_id=f"4:{SLOW}").invitation_id


@pytest.fixture
def live(acme, gateway) -> str:
    return connected_call(acme, gateway).call_connection_id


# --- create call ---------------------------------------------------------------------------

CREATE = {
    "targets": [phone(CALLEE)],
    "callbackUri": "https://app.example/cb",
    "sourceCallerIdNumber": {"value": CALLER},
}


def create(**changes: object) -> dict:
    return {k: v for k, v in {**CREATE, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    ("body", "status", "code", "mentions"),
    [
        pytest.param(b"{not json", 400, "InvalidJson", "JSON", id="malformed-json"),
        pytest.param([CREATE], 400, "BadRequest", "JSON object", id="json-list"),
        pytest.param(create(targets=None), 400, "BadRequest", "targets", id="no-targets"),
        pytest.param(create(callbackUri=None), 400, "BadRequest", "callbackUri", id="no-callback"),
        pytest.param(create(targets=[]), 400, "BadRequest", "targets", id="empty-targets"),
        pytest.param(
            create(targets=[phone(BAD_E164)]),
            400,
            "BadRequest",
            "targets[0].phoneNumber.value",
            id="bad-e164-target",
        ),
        pytest.param(
            create(targets=[{"rawId": f"4:{BAD_E164}"}]),
            400,
            "BadRequest",
            "targets[0].rawId",
            id="bad-e164-raw-id",
        ),
        pytest.param(
            create(sourceCallerIdNumber={"value": BAD_E164}),
            400,
            "BadRequest",
            "sourceCallerIdNumber.value",
            id="bad-e164-caller-id",
        ),
        pytest.param(
            create(sourceCallerIdNumber={"value": STRANGER}),
            400,
            "InvalidSourceCallerId",
            f"sourceCallerIdNumber {STRANGER}",
            id="unowned-caller-id",
        ),
        pytest.param(
            create(sourceCallerIdNumber=None),
            400,
            "BadRequest",
            "sourceCallerIdNumber",
            id="no-caller-id-for-a-phone",
        ),
        pytest.param(
            create(targets=[{"rawId": 5}]), 400, "BadRequest", "targets[0].rawId", id="raw-id-5"
        ),
        pytest.param(create(targets=[TEAMS]), 400, "NotSupported", "Teams", id="teams-user"),
        pytest.param(
            create(targets=[phone(CALLEE), phone(CALLEE)]),
            400,
            "BadRequest",
            "same participant twice",
            id="duplicate-targets",
        ),
        pytest.param(create(callbackUri="ftp://x"), 400, "BadRequest", "callbackUri", id="ftp"),
        pytest.param(
            create(callbackUri="not a url"), 400, "BadRequest", "callbackUri", id="not-a-url"
        ),
        pytest.param(
            create(callbackUri="http//app.example/cb"),
            400,
            "BadRequest",
            "callbackUri",
            id="no-scheme-colon",
        ),
        pytest.param(
            create(mediaStreamingOptions={"transportUrl": "wss://x"}),
            400,
            "NotSupported",
            "mediaStreamingOptions",
            id="media-streaming",
        ),
    ],
)
def test_create_call_refuses_a_bad_body_and_creates_nothing(
    api, acme, body, status, code, mentions
):
    before = snapshot()

    response = api(acme, "POST", "", body)

    assert_error(response, status, code, mentions)
    assert snapshot() == before


HOSTLESS_URIS = ["http://", "https://:80/cb", "http://[::1", "http://exa mple.com/cb"]
URI_BUG = (
    "Product bug: CallbackUriField drops Django's URLValidator and only checks the "
    "http(s):// prefix, so a URL with no or an invalid host is accepted (201/202); "
    "'http://[::1' then makes calls.tasks.deliver_events raise httpx.InvalidURL."
)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=URI_BUG)
@pytest.mark.parametrize("uri", HOSTLESS_URIS)
def test_create_call_refuses_a_callback_uri_without_a_valid_host(api, acme, uri):
    response = api(acme, "POST", "", create(callbackUri=uri))

    assert_error(response, 400, "BadRequest", "callbackUri")
    assert Call.unscoped.count() == 0


def test_create_call_refuses_another_tenants_number_as_caller_id(api, acme, globex):
    response = api(acme, "POST", "", create(sourceCallerIdNumber={"value": GLOBEX_CALLER}))

    assert_error(response, 400, "InvalidSourceCallerId", GLOBEX_CALLER)
    assert Call.unscoped.count() == 0


# --- participant actions on a connected call -------------------------------------------------

ADD = "/participants:add"
REMOVE = "/participants:remove"
MUTE = "/participants:mute"
CANCEL = "/participants:cancelAddParticipant"


def add(**changes: object) -> dict:
    return {"participantToAdd": phone(NEWCOMER), **changes}


def action_params() -> list:
    shape = [
        pytest.param(path, body, 400, code, mentions, id=f"{path.split(':')[1]}-{name}")
        for path in (ADD, REMOVE, MUTE, CANCEL)
        for name, body, code, mentions in [
            ("malformed-json", b"{not json", "InvalidJson", "JSON"),
            ("json-list", [{"invitationId": "x"}], "BadRequest", "JSON object"),
        ]
    ]
    specific = [
        (ADD, {}, 400, "BadRequest", "participantToAdd", "add-missing"),
        (REMOVE, {}, 400, "BadRequest", "participantToRemove", "remove-missing"),
        (MUTE, {}, 400, "BadRequest", "targetParticipants", "mute-missing"),
        (CANCEL, {}, 400, "BadRequest", "invitationId", "cancel-missing"),
        (MUTE, {"targetParticipants": []}, 400, "BadRequest", "targetParticipants", "mute-none"),
        (
            ADD,
            add(participantToAdd=phone(BAD_E164)),
            400,
            "BadRequest",
            "participantToAdd.",
            "e164",
        ),
        (ADD, add(participantToAdd={"rawId": 5}), 400, "BadRequest", "participantToAdd.", "raw5"),
        (ADD, add(participantToAdd=TEAMS), 400, "NotSupported", "Teams", "add-teams"),
        (ADD, add(invitationTimeoutInSeconds=0), 400, "BadRequest", "invitationTimeout", "t0"),
        (ADD, add(invitationTimeoutInSeconds=-5), 400, "BadRequest", "invitationTimeout", "t-5"),
        (
            ADD,
            add(sourceCallerIdNumber={"value": STRANGER}),
            400,
            "InvalidSourceCallerId",
            STRANGER,
            "add-unowned-caller-id",
        ),
        (
            ADD,
            add(customCallingContext={"sipHeaders": {"X-A": "b"}}),
            400,
            "NotSupported",
            "customCallingContext",
            "add-sip-headers",
        ),
        (ADD, add(operationCallbackUri="ftp://x"), 400, "BadRequest", "operationCallback", "ftp"),
        (ADD, add(participantToAdd=phone(CALLEE)), 400, "ParticipantAlreadyInCall", CALLEE, "dup"),
        (REMOVE, {"participantToRemove": {"rawId": 5}}, 400, "BadRequest", "Remove.rawId", "r5"),
        (REMOVE, {"participantToRemove": TEAMS}, 400, "NotSupported", "Teams", "remove-teams"),
        (
            REMOVE,
            {"participantToRemove": phone(STRANGER)},
            400,
            "ParticipantNotFound",
            STRANGER,
            "remove-stranger",
        ),
        (
            REMOVE,
            {"participantToRemove": phone(SLOW)},
            400,
            "ParticipantNotFound",
            SLOW,
            "remove-still-ringing",
        ),
        (MUTE, {"targetParticipants": [{"rawId": 5}]}, 400, "BadRequest", "[0].rawId", "mute5"),
        (MUTE, {"targetParticipants": [TEAMS]}, 400, "NotSupported", "Teams", "mute-teams"),
        (
            MUTE,
            {"targetParticipants": [phone(STRANGER)]},
            400,
            "ParticipantNotFound",
            STRANGER,
            "mute-stranger",
        ),
        (
            CANCEL,
            {"invitationId": "no-such-invitation"},
            404,
            "InvitationNotFound",
            "no-such-invitation",
            "cancel-unknown",
        ),
    ]
    return shape + [pytest.param(*values[:5], id=values[5]) for values in specific]


@pytest.mark.parametrize(("path", "body", "status", "code", "mentions"), action_params())
def test_a_participant_action_refuses_bad_input_and_changes_nothing(
    api, acme, live, path, body, status, code, mentions
):
    before = snapshot()

    response = api(acme, "POST", f"/{live}{path}", body)

    assert_error(response, status, code, mentions)
    assert snapshot() == before


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=URI_BUG)
@pytest.mark.parametrize("uri", HOSTLESS_URIS)
def test_add_participant_refuses_an_operation_callback_uri_without_a_valid_host(
    api, acme, live, uri
):
    before = snapshot()

    response = api(acme, "POST", f"/{live}{ADD}", add(operationCallbackUri=uri))

    assert_error(response, 400, "BadRequest", "operationCallbackUri")
    assert snapshot() == before


def test_the_original_targets_invitation_cannot_be_cancelled(api, acme, live):
    target = Participant.unscoped.get(raw_id=f"4:{CALLEE}")
    before = snapshot()

    response = api(acme, "POST", f"/{live}{CANCEL}", {"invitationId": target.invitation_id})

    assert_error(response, 404, "InvitationNotFound")
    assert snapshot() == before


# --- actions on a call that has ended ------------------------------------------------------

ENDED_ACTIONS = [
    pytest.param("DELETE", "", None, id="hang-up"),
    pytest.param("POST", ":terminate", None, id="terminate"),
    pytest.param("POST", ADD, add(), id="add"),
    pytest.param("POST", REMOVE, {"participantToRemove": phone(CALLEE)}, id="remove"),
    pytest.param("POST", MUTE, {"targetParticipants": [phone(CALLEE)]}, id="mute"),
    pytest.param("POST", CANCEL, {"invitationId": PENDING}, id="cancel"),
]


def with_invitation(body: object, invitation: str) -> object:
    return {"invitationId": invitation} if body == {"invitationId": PENDING} else body


@pytest.mark.parametrize(("method", "path", "body"), ENDED_ACTIONS)
def test_an_action_on_a_disconnected_call_is_refused(api, acme, gateway, method, path, body):
    connection = connected_call(acme, gateway)
    invitation = pending_invitation(connection)
    services.terminate(acme, connection.call_connection_id)
    before = snapshot()

    response = api(
        acme, method, f"/{connection.call_connection_id}{path}", with_invitation(body, invitation)
    )

    assert_error(response, 400, "CallNotActive", "disconnected")
    assert snapshot() == before


# --- another tenant's call, or no call at all ----------------------------------------------

ROUTES = [
    pytest.param("GET", "", None, 200, id="get-properties"),
    pytest.param("DELETE", "", None, 204, id="hang-up"),
    pytest.param("POST", ":terminate", None, 204, id="terminate"),
    pytest.param("GET", "/participants", None, 200, id="list-participants"),
    pytest.param("GET", "/participants/4%3A%2B14255550123", None, 200, id="get-participant"),
    pytest.param("POST", ADD, add(), 202, id="add"),
    pytest.param("POST", REMOVE, {"participantToRemove": phone(CALLEE)}, 202, id="remove"),
    pytest.param("POST", MUTE, {"targetParticipants": [phone(CALLEE)]}, 200, id="mute"),
    pytest.param("POST", CANCEL, {"invitationId": PENDING}, 202, id="cancel"),
]


@pytest.mark.parametrize(("method", "path", "body", "success"), ROUTES)
def test_another_tenants_call_is_not_found_on_every_route(
    api, acme, globex, gateway, method, path, body, success
):
    theirs = connected_call(globex, gateway, GLOBEX_CALLER)
    body = with_invitation(body, pending_invitation(theirs))
    before = snapshot()

    response = api(acme, method, f"/{theirs.call_connection_id}{path}", body)

    assert_error(response, 404, "8522", "Call connection not found")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body", "success"), ROUTES)
def test_the_same_request_succeeds_for_the_tenant_that_owns_the_call(
    api, globex, gateway, method, path, body, success
):
    # The control for the test above: the 404 is about tenancy, not about the request.
    theirs = connected_call(globex, gateway, GLOBEX_CALLER)
    body = with_invitation(body, pending_invitation(theirs))

    response = api(globex, method, f"/{theirs.call_connection_id}{path}", body)

    assert response.status_code == success, response.content


@pytest.mark.parametrize(("method", "path", "body", "success"), ROUTES)
def test_an_unknown_call_is_not_found_on_every_route(api, acme, live, method, path, body, success):
    before = snapshot()

    response = api(acme, method, f"/no-such-call{path}", with_invitation(body, "x"))

    assert_error(response, 404, "8522")
    assert snapshot() == before


# --- one participant -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_id", "status", "code", "mentions"),
    [
        pytest.param("4%3A%2B14255550199", 404, "ParticipantNotFound", STRANGER, id="stranger"),
        pytest.param("4%3A%2B14255550125", 404, "ParticipantNotFound", SLOW, id="still-ringing"),
        pytest.param("4%3A%2B1555123456", 400, "BadRequest", "participantRawId", id="bad-e164"),
        pytest.param("8%3Aorgid%3Ax", 400, "NotSupported", "Teams", id="teams"),
        pytest.param("4%3A%2014255550123", 400, "BadRequest", "participantRawId", id="space"),
    ],
)
def test_get_participant_refuses_someone_not_in_the_call(
    api, acme, live, raw_id, status, code, mentions
):
    response = api(acme, "GET", f"/{live}/participants/{raw_id}")

    assert_error(response, status, code, mentions)


def test_a_participant_who_was_removed_is_no_longer_found(api, acme, live):
    services.remove_participant(acme, live, target=Identifier.phone(CALLEE))

    response = api(acme, "GET", f"/{live}/participants/4%3A%2B14255550123")

    assert_error(response, 404, "ParticipantNotFound", CALLEE)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="Product bug: a callConnectionId containing NUL (%00) reaches PostgreSQL, which "
    "raises DataError, so every route answers 500 InternalError (which azure-core retries).",
)
@pytest.mark.parametrize(("method", "path", "body", "success"), ROUTES)
def test_a_call_id_with_a_nul_byte_is_not_found_rather_than_a_server_error(
    api, client, acme, live, method, path, body, success
):
    client.raise_request_exception = False  # see the answer a real client would get
    before = snapshot()

    response = api(acme, method, f"/%00{path}", with_invitation(body, "x"))

    assert_error(response, 404, "8522")
    assert snapshot() == before


# --- one participant -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_id", "status", "code", "mentions"),
    [
        pytest.param("4%3A%2B14255550199", 404, "ParticipantNotFound", STRANGER, id="stranger"),
        pytest.param("4%3A%2B14255550125", 404, "ParticipantNotFound", SLOW, id="still-ringing"),
        pytest.param("4%3A%2B1555123456", 400, "BadRequest", "participantRawId", id="bad-e164"),
        pytest.param("8%3Aorgid%3Ax", 400, "NotSupported", "Teams", id="teams"),
        pytest.param("4%3A%2014255550123", 400, "BadRequest", "participantRawId", id="space"),
    ],
)
def test_get_participant_refuses_someone_not_in_the_call(
    api, acme, live, raw_id, status, code, mentions
):
    response = api(acme, "GET", f"/{live}/participants/{raw_id}")

    assert_error(response, status, code, mentions)


def test_a_participant_who_was_removed_is_no_longer_found(api, acme, live):
    services.remove_participant(acme, live, target=Identifier.phone(CALLEE))

    response = api(acme, "GET", f"/{live}/participants/4%3A%2B14255550123")

    assert_error(response, 404, "ParticipantNotFound", CALLEE)


@pytest.mark.parametrize(("method", "path", "body", "success"), ROUTES)
def test_a_call_id_with_a_nul_byte_is_not_found_rather_than_a_server_error(
    api, client, acme, live, method, path, body, success
):
    client.raise_request_exception = False
    before = snapshot()

    response = api(acme, method, f"/%00{path}", with_invitation(body, "x"))

    print(response.status_code, response.headers, response.content)
    assert_error(response, 404, "8522")
    assert snapshot() == before
