"""Refused requests on the incoming-call, connect and transfer routes (ACS-WIRE.md §4, §6):
answer, redirect, reject, connect and transferToParticipant answer a 4xx in the ACS error
shape that names the problem, without Retry-After, and change nothing in the database.

Requests are raw signed HTTP through Django's test client; calls are set up through the
services and carried by the gateway's simulated carrier on a virtual clock.
"""

import pytest

from calls import call_verbs, incoming_verbs, participant_verbs
from calls.identifiers import Identifier
from calls.incoming import make_context
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

OUR_NUMBER = "+14255550100"
GLOBEX_NUMBER = "+14255550101"
CALLEE = "+14255550123"
NEWCOMER = "+14255550124"
SLOW = "+14255550125"
FRIEND = "+14255550126"
RINGER = "+14255550199"  # who rings the tenants' numbers
BAD_E164 = "+1555123456"
CALLBACK = "https://app.example/cb"
TABLES = (Call, CallConnection, Participant, CallEvent, CarrierCommand)

# Placeholders, replaced by values that exist only once the test's calls do.
CONTEXT = "<the ringing call's incomingCallContext>"
TAMPERED = "<that context with its last characters changed>"
SERVER_CALL_ID = "<the connected call's serverCallId>"
RINGING_CALL_ID = "<the ringing call's serverCallId>"

ANSWER = ":answer"
REDIRECT = ":redirect"
REJECT = ":reject"
CONNECT = ":connect"
TRANSFER = "/{live}:transferToParticipant"


def locator(server_call_id: str = SERVER_CALL_ID, kind: str = "serverCallLocator") -> dict:
    return {"kind": kind, "serverCallId": server_call_id}


BODIES = {
    ANSWER: {"incomingCallContext": CONTEXT, "callbackUri": CALLBACK},
    REDIRECT: {"incomingCallContext": CONTEXT, "target": phone(NEWCOMER)},
    REJECT: {"incomingCallContext": CONTEXT, "callRejectReason": "busy"},
    CONNECT: {"callLocator": locator(), "callbackUri": CALLBACK},
    TRANSFER: {"targetParticipant": phone(NEWCOMER)},
}
SUCCESS = {ANSWER: 200, REDIRECT: 204, REJECT: 204, CONNECT: 200, TRANSFER: 202}


def body(path: str, **changes: object) -> dict:
    """The valid body of `path` with `changes`; a change to None drops the key."""
    return {k: v for k, v in {**BODIES[path], **changes}.items() if v is not None}


def name_of(path: str) -> str:
    return path.split(":")[-1]


def fill(value: object, values: dict) -> object:
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return values.get(value, value) if isinstance(value, str) else value


def tamper(context: str) -> str:
    return context[:-3] + ("abc" if context[-3:] != "abc" else "xyz")


def snapshot() -> dict:
    return api_support.snapshot(TABLES)


@pytest.fixture
def api(client):
    """POST `body` to callConnections`path` as `tenant`, signed with its primary key;
    placeholders in the path and body are filled from `values`."""

    def send(tenant, path: str, body: object, values: dict):
        path = path.format(live=values.get("live", "x"))
        raw = body if isinstance(body, bytes) else fill(body, values)
        return signed(client, tenant, "POST", f"callConnections{path}", raw)

    return send


@pytest.fixture
def acme(tenant):
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    return tenant


@pytest.fixture
def globex(other_tenant):
    tenant_services.add_phone_number(other_tenant, GLOBEX_NUMBER, actor=None)
    return other_tenant


def connected_call(tenant, gateway, caller: str, *targets: str) -> CallConnection:
    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(t) for t in targets or (CALLEE,)],
        callback_uri="http://127.0.0.1:9/cb",
        source_caller_id=caller,
    )
    gateway.advance(2)
    connection.refresh_from_db()
    assert connection.state == CallConnection.State.CONNECTED
    return connection


def ring(tenant, gateway, number: str) -> Call:
    incoming_verbs.simulate_incoming_call(tenant, to_number=number, caller=Identifier.phone(RINGER))
    gateway.advance(0)
    call = Call.unscoped.get(tenant=tenant, direction=Call.Direction.INBOUND)
    assert call.state == Call.State.CONNECTING
    return call


def calls_of(tenant, gateway, number: str) -> dict:
    """A connected outbound call and a ringing incoming one: the placeholders' values."""
    connection = connected_call(tenant, gateway, number)
    ringing = ring(tenant, gateway, number)
    context = make_context(ringing)
    return {
        CONTEXT: context,
        TAMPERED: tamper(context),
        SERVER_CALL_ID: connection.call.server_call_id,
        RINGING_CALL_ID: ringing.server_call_id,
        "live": connection.call_connection_id,
        "ringing": ringing,
    }


@pytest.fixture
def ours(acme, gateway) -> dict:
    return calls_of(acme, gateway, OUR_NUMBER)


@pytest.fixture
def theirs(globex, gateway) -> dict:
    return calls_of(globex, gateway, GLOBEX_NUMBER)


def case(name: str, path: str, body: object, mentions: str, code="BadRequest", status=400):
    """One refused request: its route and body, then the text the error must contain."""
    return pytest.param(path, body, status, code, mentions, id=name)


NOT_OURS = "incomingCallContext is not a context this service issued"
CUSTOM_CONTEXT = {"customCallingContext": {"sipHeaders": {"X-A": "b"}}}
MEDIA = {"mediaStreamingOptions": {"transportUrl": "wss://x"}}

ERRORS = [
    *[
        case(f"{name_of(path)}-{name}", path, raw, mentions, code=code)
        for path in BODIES
        for name, raw, code, mentions in [
            ("malformed-json", b"{not json", "InvalidJson", "JSON"),
            ("json-list", [BODIES[path]], "BadRequest", "must be a JSON object"),
        ]
    ],
    *[
        case(
            f"{name_of(path)}-{name}",
            path,
            body(path, incomingCallContext=ctx),
            mentions,
            code=code,
        )
        for path in (ANSWER, REDIRECT, REJECT)
        for name, ctx, code, mentions in [
            ("no-context", None, "BadRequest", "incomingCallContext: This field is required"),
            ("blank-context", "", "BadRequest", "incomingCallContext: This field may not be"),
            ("garbage-context", "abc", "InvalidIncomingCallContext", NOT_OURS),
            ("tampered-context", TAMPERED, "InvalidIncomingCallContext", NOT_OURS),
        ]
    ],
    case("answer-no-callback", ANSWER, body(ANSWER, callbackUri=None), "callbackUri: This field"),
    case("answer-ftp-callback", ANSWER, body(ANSWER, callbackUri="ftp://x"), "callbackUri"),
    case(
        "answer-media-streaming",
        ANSWER,
        body(ANSWER, mediaStreamingOptions={"transportUrl": "ws://169.254.169.254/"}),
        "mediaStreamingOptions.transportUrl: this URL is not allowed",
    ),
    case("redirect-no-target", REDIRECT, body(REDIRECT, target=None), "target: This field"),
    case("redirect-teams", REDIRECT, body(REDIRECT, target=TEAMS), "Teams", code="NotSupported"),
    case(
        "redirect-bad-e164",
        REDIRECT,
        body(REDIRECT, target=phone(BAD_E164)),
        "target.phoneNumber.value",
    ),
    case(
        "redirect-custom-calling-context",
        REDIRECT,
        body(REDIRECT, **CUSTOM_CONTEXT),
        "customCallingContext",
        code="NotSupported",
    ),
    case(
        "redirect-to-the-caller",
        REDIRECT,
        body(REDIRECT, target=phone(RINGER)),
        "cannot be redirected to its own caller",
    ),
    case("reject-maybe", REJECT, body(REJECT, callRejectReason="maybe"), "callRejectReason"),
    case("connect-no-locator", CONNECT, body(CONNECT, callLocator=None), "callLocator: This"),
    case("connect-no-callback", CONNECT, body(CONNECT, callbackUri=None), "callbackUri: This"),
    *[
        case(
            f"connect-{kind}",
            CONNECT,
            body(CONNECT, callLocator=locator(kind=kind)),
            f"callLocator.kind: {kind} is not supported",
            code="NotSupported",
        )
        for kind in ("groupCallLocator", "roomCallLocator")
    ],
    case(
        "connect-no-server-call-id",
        CONNECT,
        body(CONNECT, callLocator={"kind": "serverCallLocator"}),
        "callLocator: Must be a serverCallLocator with a serverCallId",
    ),
    case(
        "connect-media-streaming",
        CONNECT,
        body(CONNECT, **MEDIA),
        "mediaStreamingOptions: media streaming is not supported",
        code="NotSupported",
    ),
    case(
        "connect-ringing-call",
        CONNECT,
        body(CONNECT, callLocator=locator(RINGING_CALL_ID)),
        "The call is connecting",
        code="CallNotActive",
    ),
    case("transfer-no-target", TRANSFER, {}, "targetParticipant: This field is required"),
    case(
        "transfer-teams",
        TRANSFER,
        body(TRANSFER, targetParticipant=TEAMS),
        "Teams",
        code="NotSupported",
    ),
    case(
        "transfer-bad-e164",
        TRANSFER,
        body(TRANSFER, targetParticipant=phone(BAD_E164)),
        "targetParticipant.phoneNumber.value",
    ),
    case(
        "transfer-custom-calling-context",
        TRANSFER,
        body(TRANSFER, **CUSTOM_CONTEXT),
        "customCallingContext.sipHeaders.X-A: custom SIP headers are named X-MS-Custom-",
    ),
    case(
        "transfer-to-someone-in-the-call",
        TRANSFER,
        body(TRANSFER, targetParticipant=phone(CALLEE)),
        f"4:{CALLEE} is already in the call",
        code="ParticipantAlreadyInCall",
    ),
    case(
        "transfer-stranger-transferee",
        TRANSFER,
        body(TRANSFER, transferee=phone(RINGER)),
        RINGER,
        code="ParticipantNotFound",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "code", "mentions"), ERRORS)
def test_a_bad_request_is_refused_and_changes_nothing(
    api, acme, ours, path, body, status, code, mentions
):
    before = snapshot()

    response = api(acme, path, body, ours)

    assert_error(response, status, code, mentions)
    assert snapshot() == before


def test_a_transfer_on_a_group_call_needs_a_transferee(api, acme, gateway):
    group = connected_call(acme, gateway, OUR_NUMBER, CALLEE, NEWCOMER)
    before = snapshot()

    response = api(
        acme, TRANSFER, {"targetParticipant": phone(FRIEND)}, {"live": group.call_connection_id}
    )

    assert_error(response, 400, "BadRequest", "transferee is required")
    assert snapshot() == before


def test_a_transfer_to_someone_still_being_invited_is_refused(api, client, acme, ours, gateway):
    client.raise_request_exception = False  # see the answer a real client would get
    SimulatedCallee.unscoped.create(tenant=acme, raw_id=f"4:{SLOW}", answer_after=100)
    participant_verbs.add_participant(acme, ours["live"], target=Identifier.phone(SLOW))
    gateway.advance(1)
    before = snapshot()

    response = api(acme, TRANSFER, {"targetParticipant": phone(SLOW)}, ours)

    assert_error(response, 400, mentions=SLOW)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("path", "code", "mentions"),
    [
        pytest.param(ANSWER, "IncomingCallAlreadyHandled", "already", id="answer"),
        pytest.param(REDIRECT, "IncomingCallAlreadyHandled", "already", id="redirect"),
        pytest.param(REJECT, "IncomingCallAlreadyHandled", "already", id="reject"),
        pytest.param(CONNECT, "CallNotActive", "disconnected", id="connect"),
        pytest.param(TRANSFER, "CallNotActive", "disconnected", id="transfer"),
    ],
)
def test_a_call_that_has_ended_is_refused(api, acme, ours, gateway, settings, path, code, mentions):
    call_verbs.terminate(acme, ours["live"])
    gateway.advance(settings.INCOMING_CALL_RING_TIMEOUT_SECONDS + 1)  # the caller gives up
    assert Call.unscoped.get(pk=ours["ringing"].pk).state == Call.State.DISCONNECTED
    before = snapshot()

    response = api(acme, path, BODIES[path], ours)

    assert_error(response, 400, code, mentions)
    assert snapshot() == before


# --- another tenant's call ---------------------------------------------------------------


@pytest.mark.parametrize("path", list(BODIES), ids=name_of)
def test_another_tenants_call_is_not_found(api, acme, globex, theirs, path):
    before = snapshot()

    response = api(acme, path, BODIES[path], theirs)

    assert_error(response, 404, "8522")
    assert snapshot() == before
    ringing = Call.unscoped.get(pk=theirs["ringing"].pk)
    assert ringing.handled_at is None
    assert ringing.state == Call.State.CONNECTING


@pytest.mark.parametrize("path", list(BODIES), ids=name_of)
def test_the_same_request_succeeds_for_the_tenant_that_owns_the_call(api, globex, theirs, path):
    # The control for the test above: the 404 is about tenancy, not about the request.
    response = api(globex, path, BODIES[path], theirs)

    assert response.status_code == SUCCESS[path], response.content
