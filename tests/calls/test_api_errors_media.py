"""Refused requests on the media routes (ACS-WIRE.md §3, §4, §6): play, recognize,
cancelAllMediaOperations, continuous DTMF, sendDtmfTones, hold and unhold answer a 4xx in
the ACS error shape that names the problem, without Retry-After, and change nothing in the
database (no MediaOperation, no carrier command, no hold or DTMF flag on a participant).

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
    MediaOperation,
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
SLOW = "+14255550125"  # invited, still ringing: not yet in the call
STRANGER = "+14255550199"
BAD_E164 = "+1555123456"
TABLES = (Call, CallConnection, Participant, CallEvent, CarrierCommand, MediaOperation)

PLAY = ":play"
RECOGNIZE = ":recognize"
CANCEL_ALL = ":cancelAllMediaOperations"
START_DTMF = ":startContinuousDtmfRecognition"
STOP_DTMF = ":stopContinuousDtmfRecognition"
SEND_DTMF = ":sendDtmfTones"
HOLD = ":hold"
UNHOLD = ":unhold"


def text(**changes: object) -> dict:
    return {"kind": "text", "text": {"text": "Hello", **changes}}


def file(uri: object) -> dict:
    return {"kind": "file", "file": {"uri": uri}}


SSML = {"kind": "ssml", "ssml": {"ssmlText": "<speak>Hello</speak>"}}


def ssml(text: object, **more: object) -> dict:
    return {"kind": "ssml", "ssml": {"ssmlText": text, **more}}


MSTTS = '<speak xmlns:mstts="http://www.w3.org/2001/mstts"><mstts:express-as>Hi</mstts:express-as></speak>'

DTMF_OPTIONS = {"interToneTimeoutInSeconds": 2, "maxTonesToCollect": 1, "stopTones": ["pound"]}
RECOGNIZE_OPTIONS = {
    "interruptPrompt": False,
    "initialSilenceTimeoutInSeconds": 5,
    "targetParticipant": phone(CALLEE),
    "dtmfOptions": DTMF_OPTIONS,
}
TARGET = {"targetParticipant": phone(CALLEE)}

# What the SDK sends for each route (ACS-WIRE.md §4); None is no body at all.
BODIES = {
    PLAY: {
        "playSources": [text()],
        "playTo": [],
        "interruptCallMediaOperation": False,
        "playOptions": {"loop": False},
        "operationContext": "play",
    },
    RECOGNIZE: {
        "recognizeInputType": "dtmf",
        "playPrompt": text(),
        "interruptCallMediaOperation": False,
        "recognizeOptions": RECOGNIZE_OPTIONS,
        "operationContext": "recognize",
    },
    CANCEL_ALL: None,
    START_DTMF: {**TARGET, "operationContext": "start"},
    STOP_DTMF: {**TARGET, "operationContext": "stop"},
    SEND_DTMF: {"tones": ["one", "pound"], **TARGET, "operationContext": "dtmf"},
    HOLD: {**TARGET, "operationContext": "hold"},
    UNHOLD: {**TARGET, "operationContext": "unhold"},
}
SUCCESS = {
    PLAY: 202,
    RECOGNIZE: 202,
    CANCEL_ALL: 202,
    START_DTMF: 200,
    STOP_DTMF: 200,
    SEND_DTMF: 202,
    HOLD: 200,
    UNHOLD: 200,
}


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes`; a change to None drops the key."""
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def body(path: str, **changes: object) -> dict:
    return merged(BODIES[path], changes)


def play(*sources: object, **changes: object) -> dict:
    return body(PLAY, playSources=list(sources), **changes)


def recognize(**options: object) -> dict:
    return body(RECOGNIZE, recognizeOptions=merged(RECOGNIZE_OPTIONS, options))


def dtmf(**changes: object) -> dict:
    return recognize(dtmfOptions=merged(DTMF_OPTIONS, changes))


def name_of(path: str) -> str:
    return path.lstrip(":")


def snapshot() -> dict:
    return api_support.snapshot(TABLES)


@pytest.fixture
def api(client):
    """POST `body` to callConnections/`connection``path` as `tenant`, signed with its key."""

    def send(tenant, connection: str, path: str, body: object):
        return signed(client, tenant, "POST", f"callConnections/{connection}{path}", body)

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
    return connection


@pytest.fixture
def live(acme, gateway) -> str:
    return connected_call(acme, gateway).call_connection_id


def case(path: str, name: str, body: object, mentions: str, code="BadRequest", status=400):
    """One refused request: its route and body, then the text the error must contain."""
    return pytest.param(path, body, status, code, mentions, id=f"{name_of(path)}-{name}")


def typed(kind: object) -> dict:
    return body(RECOGNIZE, recognizeInputType=kind)


def prompted(*prompts: object) -> dict:
    return body(RECOGNIZE, playPrompt=None, playPrompts=list(prompts))


NS = "NotSupported"
TARGETED = (SEND_DTMF, START_DTMF, STOP_DTMF, HOLD, UNHOLD)
OPTIONS = "recognizeOptions"
TIMEOUT = f"{OPTIONS}.initialSilenceTimeoutInSeconds: must be a number from 1 to 300"
INTER_TONE = f"{OPTIONS}.dtmfOptions.interToneTimeoutInSeconds: must be a number from 1 to 60"
MAX_TONES = f"{OPTIONS}.dtmfOptions.maxTonesToCollect: must be a whole number from 1 to 30"
STOP_TONES = f"{OPTIONS}.dtmfOptions.stopTones"
CHOICES = f"{OPTIONS}.choices"


def choices(*items: object, **options: object) -> dict:
    return {**recognize(choices=list(items), **options), "recognizeInputType": "choices"}


ERRORS = [
    *[
        case(path, name, raw, mentions, code)
        for path in BODIES
        if path != CANCEL_ALL
        for name, raw, code, mentions in [
            ("malformed-json", b"{not json", "InvalidJson", "JSON"),
            ("json-list", [BODIES[path]], "BadRequest", "must be a JSON object"),
        ]
    ],
    case(PLAY, "empty-sources", play(), "playSources: at least one play source"),
    case(PLAY, "no-sources", body(PLAY, playSources=None), "playSources: This field is required"),
    case(PLAY, "11-sources", play(*[text()] * 11), "playSources: Ensure this field has no more"),
    case(PLAY, "source-string", play("Hello"), "playSources[0]: must be a play source object"),
    case(PLAY, "no-kind", play({"text": {"text": "Hi"}}), "playSources[0].kind: must be file"),
    case(PLAY, "video", play(text(), {"kind": "video"}), "playSources[1].kind: must be file"),
    case(PLAY, "file-no-uri", play({"kind": "file", "file": {}}), "playSources[0].file.uri"),
    case(PLAY, "file-no-file", play({"kind": "file"}), "playSources[0].file.uri"),
    case(PLAY, "file-ftp", play(file("ftp://x")), "playSources[0].file.uri"),
    case(PLAY, "file-not-a-url", play(file("not a url")), "playSources[0].file.uri"),
    case(PLAY, "no-text", play({"kind": "text"}), "playSources[0].text.text: the text to speak"),
    case(PLAY, "text-5", play(text(text=5)), "playSources[0].text.text: the text to speak"),
    case(PLAY, "long-text", play(text(text="x" * 4001)), "text.text: at most 4000 characters"),
    case(PLAY, "robot", play(text(voiceKind="robot")), "voiceKind: must be male or female"),
    case(PLAY, "ssml-no-text", play({"kind": "ssml"}), "playSources[0].ssml.ssmlText: the SSML"),
    case(PLAY, "ssml-5", play(ssml(5)), "playSources[0].ssml.ssmlText: the SSML"),
    case(PLAY, "ssml-not-xml", play(ssml("<speak>Hi")), "ssmlText: not well-formed XML"),
    case(PLAY, "ssml-root", play(ssml("<voice>Hi</voice>")), "root element must be <speak>"),
    case(PLAY, "ssml-audio", play(ssml("<speak><audio src='x'/></speak>")), "element <audio>"),
    case(PLAY, "ssml-mstts", play(ssml(MSTTS)), "unsupported element <mstts:express-as>"),
    case(PLAY, "ssml-attr", play(ssml("<speak><break foo='1'/>x</speak>")), "attribute 'foo'"),
    case(PLAY, "ssml-empty", play(ssml("<speak> </speak>")), "no text to speak"),
    case(
        PLAY,
        "ssml-doctype",
        play(ssml('<!DOCTYPE speak [<!ENTITY a "aaaa">]><speak>&a;</speak>')),
        "DOCTYPE, ENTITY and CDATA declarations are not allowed",
    ),
    case(PLAY, "ssml-long", play(ssml("<speak>" + "x" * 8000 + "</speak>")), "at most 8000"),
    case(PLAY, "ssml-custom", play(ssml("<speak>Hi</speak>", customVoiceEndpointId="x")), "", NS),
    case(PLAY, "custom-voice", play(text(customVoiceEndpointId="x")), "customVoiceEndpointId", NS),
    case(PLAY, "cache-id-5", play({**text(), "playSourceCacheId": 5}), "playSourceCacheId"),
    case(PLAY, "to-bad-e164", body(PLAY, playTo=[phone(BAD_E164)]), "playTo[0].phoneNumber"),
    case(PLAY, "to-raw-id-5", body(PLAY, playTo=[{"rawId": 5}]), "playTo[0].rawId"),
    case(PLAY, "to-teams", body(PLAY, playTo=[TEAMS]), "playTo[0]: Teams", NS),
    case(PLAY, "loop-yes", body(PLAY, playOptions={"loop": "yes"}), "playOptions.loop: must be"),
    case(PLAY, "ftp-callback", body(PLAY, operationCallbackUri="ftp://x"), "operationCallbackUri"),
    case(RECOGNIZE, "no-input-type", typed(None), "recognizeInputType: This field is required"),
    case(RECOGNIZE, "fax", typed("fax"), "recognizeInputType: must be one of dtmf, speech"),
    case(RECOGNIZE, "choices-none", typed("choices"), f"{CHOICES}: at least one choice"),
    case(RECOGNIZE, "choices-string", choices("yes"), f"{CHOICES}[0]: must be an object"),
    case(RECOGNIZE, "choice-no-label", choices({"phrases": ["yes"]}), f"{CHOICES}[0].label"),
    case(RECOGNIZE, "choice-no-phrases", choices({"label": "a"}), f"{CHOICES}[0].phrases"),
    case(RECOGNIZE, "choice-phrase-5", choices({"label": "a", "phrases": [5]}), "phrases: 1 to"),
    case(RECOGNIZE, "choice-punct", choices({"label": "a", "phrases": ["?!"]}), "phrases: 1 to"),
    case(
        RECOGNIZE,
        "choice-unknown-word",
        choices({"label": "a", "phrases": ["yes zorblax"]}),
        "does not know the word(s) zorblax",
    ),
    case(
        RECOGNIZE,
        "choice-same-label",
        choices({"label": "a", "phrases": ["yes"]}, {"label": "a", "phrases": ["no"]}),
        f"{CHOICES}[1].label: 'a' is used by another choice",
    ),
    case(
        RECOGNIZE,
        "choice-tone-eleven",
        choices({"label": "a", "phrases": ["yes"], "tone": "eleven"}),
        f"{CHOICES}[0].tone: unknown tone",
    ),
    case(
        RECOGNIZE,
        "choices-11",
        choices(*[{"label": str(i), "phrases": ["yes"]} for i in range(11)]),
        f"{CHOICES}: at most 10 choices",
    ),
    case(
        RECOGNIZE,
        "choices-for-dtmf",
        recognize(choices=[{"label": "a", "phrases": ["yes"]}]),
        f"{CHOICES}: only for recognizeInputType choices",
    ),
    *[
        case(
            RECOGNIZE,
            f"end-silence-{v!r}",
            recognize(speechOptions={"endSilenceTimeoutInMs": v}),
            "speechOptions.endSilenceTimeoutInMs: must be a number from 100 to 10000",
        )
        for v in (0, 99, 10001, "500", True)
    ],
    case(RECOGNIZE, "speech-options-x", recognize(speechOptions="x"), "speechOptions: must be"),
    case(RECOGNIZE, "french", recognize(speechLanguage="fr-FR"), "speechLanguage: only en-US"),
    case(
        RECOGNIZE,
        "custom-model",
        recognize(speechRecognitionModelEndpointId="x"),
        "speechRecognitionModelEndpointId",
        NS,
    ),
    case(RECOGNIZE, "no-options", body(RECOGNIZE, **{OPTIONS: None}), f"{OPTIONS}: This field"),
    case(RECOGNIZE, "no-target", recognize(targetParticipant=None), "targetParticipant: this"),
    case(
        RECOGNIZE,
        "target-bad-e164",
        recognize(targetParticipant=phone(BAD_E164)),
        f"{OPTIONS}.targetParticipant.phoneNumber.value",
    ),
    case(RECOGNIZE, "target-teams", recognize(targetParticipant=TEAMS), "Teams", NS),
    *[
        case(RECOGNIZE, f"silence-{v!r}", recognize(initialSilenceTimeoutInSeconds=v), TIMEOUT)
        for v in (0, -1, 301, "5", True)
    ],
    *[
        case(RECOGNIZE, f"inter-tone-{v}", dtmf(interToneTimeoutInSeconds=v), INTER_TONE)
        for v in (-1, 0, 61)
    ],
    *[case(RECOGNIZE, f"max-tones-{v}", dtmf(maxTonesToCollect=v), MAX_TONES) for v in (0, 31)],
    case(RECOGNIZE, "stop-eleven", dtmf(stopTones=["eleven"]), f"{STOP_TONES}: unknown tone"),
    case(RECOGNIZE, "stop-string", dtmf(stopTones="pound"), f"{STOP_TONES}: must be a list"),
    case(RECOGNIZE, "stop-object", dtmf(stopTones={"a": 1}), f"{STOP_TONES}: must be a list"),
    case(RECOGNIZE, "stop-17", dtmf(stopTones=["one"] * 17), f"{STOP_TONES}: at most 16"),
    case(RECOGNIZE, "dtmf-options-x", recognize(dtmfOptions="x"), "dtmfOptions: must be an"),
    case(RECOGNIZE, "interrupt-prompt-yes", recognize(interruptPrompt="yes"), "interruptPrompt"),
    case(RECOGNIZE, "video-prompt", prompted({"kind": "video"}), "playPrompts[0].kind: must be"),
    case(RECOGNIZE, "ftp-prompt", prompted(file("ftp://x")), "playPrompts[0].file.uri"),
    case(RECOGNIZE, "ssml-prompt", prompted(ssml("<speak><x/>Hi</speak>")), "element <x>"),
    case(RECOGNIZE, "2nd-prompt-robot", prompted(text(), text(voiceKind="robot")), "[1].text."),
    case(RECOGNIZE, "prompt-string", body(RECOGNIZE, playPrompt="Hi"), "must be a play source"),
    case(SEND_DTMF, "eleven", body(SEND_DTMF, tones=["one", "eleven"]), "unknown tone 'eleven'"),
    case(SEND_DTMF, "empty", body(SEND_DTMF, tones=[]), "tones: at least one tone"),
    case(SEND_DTMF, "19-tones", body(SEND_DTMF, tones=["one"] * 19), "tones: at most 18 tones"),
    case(SEND_DTMF, "string", body(SEND_DTMF, tones="one"), "tones: must be a list"),
    case(SEND_DTMF, "numbers", body(SEND_DTMF, tones=[1, 2]), "tones: must be a list"),
    case(SEND_DTMF, "no-tones", body(SEND_DTMF, tones=None), "tones: This field is required"),
    *[
        case(path, name, body(path, targetParticipant=target), mentions, code)
        for path in TARGETED
        for name, target, code, mentions in [
            ("no-target", None, "BadRequest", "targetParticipant: This field is required"),
            ("teams", TEAMS, NS, "targetParticipant: Teams"),
            ("bad-e164", phone(BAD_E164), "BadRequest", "targetParticipant.phoneNumber.value"),
            ("raw-id-5", {"rawId": 5}, "BadRequest", "targetParticipant.rawId"),
        ]
    ],
    case(HOLD, "ssml", body(HOLD, playSourceInfo=ssml("<speak/>")), "playSourceInfo.ssml"),
    case(HOLD, "ftp-music", body(HOLD, playSourceInfo=file("ftp://x")), "playSourceInfo.file"),
    case(HOLD, "video-music", body(HOLD, playSourceInfo={"kind": "video"}), "playSourceInfo.kind"),
]


@pytest.mark.parametrize(("path", "body", "status", "code", "mentions"), ERRORS)
def test_a_bad_media_request_is_refused_and_changes_nothing(
    api, acme, live, path, body, status, code, mentions
):
    before = snapshot()

    response = api(acme, live, path, body)

    assert_error(response, status, code, mentions)
    assert snapshot() == before


LIMITS = [
    pytest.param(PLAY, play(*[text()] * 10), id="play-10-sources"),
    pytest.param(PLAY, play(text(text="x" * 4000)), id="play-4000-chars"),
    pytest.param(RECOGNIZE, recognize(initialSilenceTimeoutInSeconds=1), id="silence-1"),
    pytest.param(RECOGNIZE, recognize(initialSilenceTimeoutInSeconds=300), id="silence-300"),
    pytest.param(RECOGNIZE, dtmf(interToneTimeoutInSeconds=1), id="inter-tone-1"),
    pytest.param(RECOGNIZE, dtmf(interToneTimeoutInSeconds=60), id="inter-tone-60"),
    pytest.param(RECOGNIZE, dtmf(maxTonesToCollect=30), id="max-tones-30"),
    pytest.param(PLAY, play(SSML), id="play-ssml"),
    pytest.param(RECOGNIZE, prompted(SSML), id="ssml-prompt"),
    pytest.param(RECOGNIZE, typed("speech"), id="speech"),
    pytest.param(RECOGNIZE, typed("speechOrDtmf"), id="speech-or-dtmf"),
    pytest.param(
        RECOGNIZE,
        choices(*[{"label": str(i), "phrases": ["yes"] * 10} for i in range(10)]),
        id="choices-10-by-10",
    ),
    pytest.param(
        RECOGNIZE, recognize(speechOptions={"endSilenceTimeoutInMs": 100}), id="end-silence-100"
    ),
    pytest.param(SEND_DTMF, body(SEND_DTMF, tones=["one"] * 18), id="send-18"),
]


@pytest.mark.parametrize(("path", "body"), LIMITS)
def test_a_value_at_the_limit_is_accepted(api, acme, live, path, body):
    # The other side of the refusals above: each limit is inclusive.
    response = api(acme, live, path, body)

    assert response.status_code == SUCCESS[path], response.content


COERCED = [
    pytest.param(RECOGNIZE, dtmf(maxTonesToCollect=2.5), MAX_TONES, id="max-tones-2.5"),
    pytest.param(RECOGNIZE, dtmf(stopTones={}), STOP_TONES, id="stop-tones-empty-object"),
    pytest.param(RECOGNIZE, dtmf(stopTones=False), STOP_TONES, id="stop-tones-false"),
    *[
        pytest.param(
            path,
            body(path, interruptCallMediaOperation="yes"),
            "interruptCallMediaOperation",
            id=f"{name_of(path)}-interrupt-yes",
        )
        for path in (PLAY, RECOGNIZE)
    ],
    pytest.param(PLAY, play(text(sourceLocale=5)), "sourceLocale", id="play-locale-5"),
    pytest.param(PLAY, play(text(voiceName=["a"])), "voiceName", id="play-voice-name-list"),
]


@pytest.mark.parametrize(("path", "body", "mentions"), COERCED)
def test_a_wrongly_typed_media_option_is_refused(api, acme, live, path, body, mentions):
    before = snapshot()

    response = api(acme, live, path, body)

    assert_error(response, 400, "BadRequest", mentions)
    assert snapshot() == before


# --- someone who is not (yet) in the call -----------------------------------------------

NOT_IN_CALL_TARGETS = [
    pytest.param(STRANGER, id="stranger"),
    pytest.param(SLOW, id="still-ringing"),
]


def aimed_at(path: str, who: str) -> dict:
    """The valid body of `path`, aimed at `who`."""
    if path == PLAY:
        return body(PLAY, playTo=[phone(who)])
    if path == RECOGNIZE:
        return recognize(targetParticipant=phone(who))
    return body(path, targetParticipant=phone(who))


@pytest.mark.parametrize("who", NOT_IN_CALL_TARGETS)
@pytest.mark.parametrize("path", [PLAY, RECOGNIZE, *TARGETED], ids=name_of)
def test_a_target_who_is_not_in_the_call_is_refused(api, acme, live, path, who):
    before = snapshot()

    response = api(acme, live, path, aimed_at(path, who))

    assert_error(response, 400, "ParticipantNotFound", f"4:{who} is not a participant of this call")
    assert snapshot() == before


# --- a route that takes no body -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[]", b'{"operationContext": 5}'], ids=["malformed", "list", "junk"]
)
def test_cancel_all_media_ignores_whatever_body_it_is_sent(api, acme, live, raw):
    # ACS-WIRE.md §4: cancelAllMediaOperations takes no body ("—": any body is ignored).
    before = snapshot()

    response = api(acme, live, CANCEL_ALL, raw)

    assert response.status_code == 202, response.content
    assert snapshot() == before


# --- a call that has ended ----------------------------------------------------------------


@pytest.mark.parametrize("path", list(BODIES), ids=name_of)
def test_a_media_action_on_a_disconnected_call_is_refused(api, acme, gateway, path):
    connection = connected_call(acme, gateway)
    call_verbs.terminate(acme, connection.call_connection_id)
    before = snapshot()

    response = api(acme, connection.call_connection_id, path, BODIES[path])

    assert_error(response, 400, "CallNotActive", "disconnected")
    assert snapshot() == before


# --- another tenant's call, or no call at all ---------------------------------------------


@pytest.mark.parametrize("path", list(BODIES), ids=name_of)
def test_another_tenants_call_is_not_found_on_every_media_route(api, acme, globex, gateway, path):
    theirs = connected_call(globex, gateway, GLOBEX_CALLER)
    before = snapshot()

    response = api(acme, theirs.call_connection_id, path, BODIES[path])

    assert_error(response, 404, "8522", "Call connection not found")
    assert snapshot() == before


@pytest.mark.parametrize("path", list(BODIES), ids=name_of)
def test_the_same_request_succeeds_for_the_tenant_that_owns_the_call(api, globex, gateway, path):
    # The control for the test above: the 404 is about tenancy, not about the request.
    theirs = connected_call(globex, gateway, GLOBEX_CALLER)

    response = api(globex, theirs.call_connection_id, path, BODIES[path])

    assert response.status_code == SUCCESS[path], response.content
    if path == SEND_DTMF:
        assert response.json() == {"operationContext": "dtmf"}


@pytest.mark.parametrize("path", list(BODIES), ids=name_of)
def test_an_unknown_call_is_not_found_on_every_media_route(api, acme, live, path):
    before = snapshot()

    response = api(acme, "no-such-call", path, BODIES[path])

    assert_error(response, 404, "8522", "Call connection not found")
    assert snapshot() == before
