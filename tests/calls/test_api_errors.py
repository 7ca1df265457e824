"""Refused requests on every Call Automation route (ACS-WIRE.md §4, §6): the ACS error
shape, a 4xx that names the problem, no Retry-After, and nothing changed in the database.

Requests are raw signed HTTP through Django's test client; calls are set up through the
services and answered by the gateway's simulated carrier on a virtual clock.
"""

import pytest

from calls import call_verbs, participant_verbs
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
from tests.calls import api_support
from tests.calls.api_support import TEAMS, assert_error, phone, signed

pytestmark = pytest.mark.django_db

CALLER = "+14255550100"
GLOBEX_CALLER = "+14255550101"
CALLEE = "+14255550123"
NEWCOMER = "+14255550124"
SLOW = "+14255550125"
STRANGER = "+14255550199"
BAD_E164 = "+1555123456"
PENDING = "<the pending invitation>"  # replaced by a real invitation id in the test
TABLES = (Call, CallConnection, Participant, CallEvent, CarrierCommand)


def snapshot() -> dict:
    return api_support.snapshot(TABLES)


@pytest.fixture
def api(client):
    """Send `method` to callConnections`path` as `tenant`, signed with its primary key."""

    def send(tenant, method: str, path: str = "", body: object = None):
        return signed(client, tenant, method, f"callConnections{path}", body)

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
    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(CALLEE)],
        callback_uri="http://127.0.0.1:9/cb",
        source_caller_id=caller,
    )
    gateway.advance(2)
    participant_verbs.add_participant(
        tenant, connection.call_connection_id, target=Identifier.phone(SLOW)
    )
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


def case(name: str, *values: object, code: str = "BadRequest", status: int = 400):
    """One refused request: its parameters, then the text the error message must contain."""
    *args, mentions = values
    return pytest.param(*args, status, code, mentions, id=name)


@pytest.mark.parametrize(
    ("body", "status", "code", "mentions"),
    [
        case("malformed-json", b"{not json", "JSON", code="InvalidJson"),
        case("json-list", [CREATE], "must be a JSON object"),
        case("no-targets", create(targets=None), "targets: This field is required"),
        case("no-callback", create(callbackUri=None), "callbackUri: This field is required"),
        case("empty-targets", create(targets=[]), "targets: This list may not be empty"),
        case("bad-e164", create(targets=[phone(BAD_E164)]), "targets[0].phoneNumber.value"),
        case("bad-e164-raw-id", create(targets=[{"rawId": f"4:{BAD_E164}"}]), "targets[0].rawId"),
        case("bad-e164-caller-id", create(sourceCallerIdNumber={"value": BAD_E164}), BAD_E164),
        case(
            "unowned-caller-id",
            create(sourceCallerIdNumber={"value": STRANGER}),
            f"sourceCallerIdNumber {STRANGER} is not one of this tenant's",
            code="InvalidSourceCallerId",
        ),
        case("no-caller-id", create(sourceCallerIdNumber=None), "sourceCallerIdNumber"),
        case("raw-id-5", create(targets=[{"rawId": 5}]), "targets[0].rawId"),
        case("teams-user", create(targets=[TEAMS]), "Teams", code="NotSupported"),
        case("twice", create(targets=[phone(CALLEE)] * 2), "same participant twice"),
        case("ftp", create(callbackUri="ftp://x"), "callbackUri: Must be an http(s) URL"),
        case("not-a-url", create(callbackUri="not a url"), "callbackUri"),
        case("no-colon", create(callbackUri="http//app.example/cb"), "callbackUri"),
        case(
            "media-streaming",
            create(mediaStreamingOptions={"transportUrl": "https://x"}),
            "mediaStreamingOptions.transportUrl: a ws:// or wss:// URL is required",
        ),
        case(
            "transcription-locale",
            create(transcriptionOptions={"transportUrl": "wss://x", "locale": "fr-FR"}),
            "transcriptionOptions.locale: only en-US is supported",
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


def remove(identifier: dict) -> dict:
    return {"participantToRemove": identifier}


def mute(identifier: dict) -> dict:
    return {"targetParticipants": [identifier]}


ACTION_ERRORS = [
    *[
        case(f"{path.split(':')[1]}-{name}", path, body, mentions, code=code)
        for path in (ADD, REMOVE, MUTE, CANCEL)
        for name, body, code, mentions in [
            ("malformed-json", b"{not json", "InvalidJson", "JSON"),
            ("json-list", [{"invitationId": "x"}], "BadRequest", "must be a JSON object"),
        ]
    ],
    case("add-missing", ADD, {}, "participantToAdd: This field is required"),
    case("remove-missing", REMOVE, {}, "participantToRemove: This field is required"),
    case("mute-missing", MUTE, {}, "targetParticipants: This field is required"),
    case("cancel-missing", CANCEL, {}, "invitationId: This field is required"),
    case("mute-empty", MUTE, {"targetParticipants": []}, "targetParticipants"),
    case("add-e164", ADD, add(participantToAdd=phone(BAD_E164)), "participantToAdd.phoneNumber"),
    case("add-raw-id-5", ADD, add(participantToAdd={"rawId": 5}), "participantToAdd.rawId"),
    case("add-teams", ADD, add(participantToAdd=TEAMS), "Teams", code="NotSupported"),
    case("add-timeout-0", ADD, add(invitationTimeoutInSeconds=0), "invitationTimeoutInSeconds"),
    case("add-timeout-neg", ADD, add(invitationTimeoutInSeconds=-5), "invitationTimeoutInSeconds"),
    case(
        "add-unowned-caller-id",
        ADD,
        add(sourceCallerIdNumber={"value": STRANGER}),
        f"sourceCallerIdNumber {STRANGER}",
        code="InvalidSourceCallerId",
    ),
    case(
        "add-sip-headers",
        ADD,
        add(customCallingContext={"sipHeaders": {"X-A": "b"}}),
        "customCallingContext.sipHeaders.X-A: custom SIP headers are named X-MS-Custom-",
    ),
    case("add-ftp-callback", ADD, add(operationCallbackUri="ftp://x"), "operationCallbackUri"),
    case(
        "add-someone-in-the-call",
        ADD,
        add(participantToAdd=phone(CALLEE)),
        CALLEE,
        code="ParticipantAlreadyInCall",
    ),
    case("remove-raw-id-5", REMOVE, remove({"rawId": 5}), "participantToRemove.rawId"),
    case("remove-teams", REMOVE, remove(TEAMS), "Teams", code="NotSupported"),
    case("remove-stranger", REMOVE, remove(phone(STRANGER)), STRANGER, code="ParticipantNotFound"),
    case("remove-ringing", REMOVE, remove(phone(SLOW)), SLOW, code="ParticipantNotFound"),
    case("mute-raw-id-5", MUTE, mute({"rawId": 5}), "targetParticipants[0].rawId"),
    case("mute-teams", MUTE, mute(TEAMS), "Teams", code="NotSupported"),
    case("mute-stranger", MUTE, mute(phone(STRANGER)), STRANGER, code="ParticipantNotFound"),
    case("mute-ringing", MUTE, mute(phone(SLOW)), SLOW, code="ParticipantNotFound"),
    case(
        "cancel-unknown",
        CANCEL,
        {"invitationId": "no-such-invitation"},
        "No invitation no-such-invitation",
        code="InvitationNotFound",
        status=404,
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "code", "mentions"), ACTION_ERRORS)
def test_a_participant_action_refuses_bad_input_and_changes_nothing(
    api, acme, live, path, body, status, code, mentions
):
    before = snapshot()

    response = api(acme, "POST", f"/{live}{path}", body)

    assert_error(response, status, code, mentions)
    assert snapshot() == before


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
    pytest.param("POST", REMOVE, remove(phone(CALLEE)), id="remove"),
    pytest.param("POST", MUTE, mute(phone(CALLEE)), id="mute"),
    pytest.param("POST", CANCEL, {"invitationId": PENDING}, id="cancel"),
]


def with_invitation(body: object, invitation: str) -> object:
    return {"invitationId": invitation} if body == {"invitationId": PENDING} else body


@pytest.mark.parametrize(("method", "path", "body"), ENDED_ACTIONS)
def test_an_action_on_a_disconnected_call_is_refused(api, acme, gateway, method, path, body):
    connection = connected_call(acme, gateway)
    invitation = pending_invitation(connection)
    call_verbs.terminate(acme, connection.call_connection_id)
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
    pytest.param("POST", REMOVE, remove(phone(CALLEE)), 202, id="remove"),
    pytest.param("POST", MUTE, mute(phone(CALLEE)), 200, id="mute"),
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
    participant_verbs.remove_participant(acme, live, target=Identifier.phone(CALLEE))

    response = api(acme, "GET", f"/{live}/participants/4%3A%2B14255550123")

    assert_error(response, 404, "ParticipantNotFound", CALLEE)
