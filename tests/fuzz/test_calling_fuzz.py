"""Property-based fuzz of the Call Automation routes (/t/<slug>/calling/, issue 12).

Every route the URL configuration declares under /calling is sent, HMAC-signed like the
SDK, bodies built from its request serializer's shape (each field valid, slightly wrong,
or junk; fields dropped or added), junk bodies (any JSON, not JSON, not UTF-8), repeatability
headers, and ids of a live call or made up. Whatever the input: never a 5xx, a 4xx is the
ACS error shape, a 2xx is JSON or empty. The gateway is not run: requests only queue
commands, so this stays a test of the request path (the media-faults work covers the gateway).

Bounded: FUZZ_EXAMPLES examples (default 250, about 10 s), seed FUZZ_SEED (fixed by default,
so a run is repeatable; set another to explore).
"""

import json
import os
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from rest_framework import serializers

from callauto.views import UnknownCallingRoute
from calls import call_verbs, participant_verbs
from calls.api import media_serializers as media_bodies
from calls.api import serializers as bodies
from calls.api import streaming_serializers as streaming_bodies
from calls.api import streaming_views, views
from calls.api.serializers import CallbackUriField, IdentifierField, StrictBooleanField
from calls.identifiers import Identifier
from calls.models import CallConnection, SimulatedCallee
from recordings import services as recording_services
from recordings.api import serializers as recording_bodies
from recordings.api import views as recording_views
from recordings.services import RecordingOptions
from tenants import services as tenant_services
from tests.acs_signing import sign_headers
from tests.api_routes import Route, api_routes
from tests.calls.api_support import assert_error
from tests.conftest import key_of

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
SEED = int(os.environ.get("FUZZ_SEED", "20261203"))

CALLER = "+14255550100"
CALLEE = "+14255550123"
SLOW = "+14255550125"

# The request body of each route that reads one (a route added without an entry here
# fails test_every_calling_route_has_a_body_shape).
BODIES: dict[type, type[serializers.Serializer]] = {
    views.CreateCallView: bodies.CreateCallBody,
    views.AnswerCallView: bodies.AnswerBody,
    views.RedirectCallView: bodies.RedirectBody,
    views.RejectCallView: bodies.RejectBody,
    views.ConnectCallView: bodies.ConnectBody,
    views.TransferView: bodies.TransferBody,
    views.AddParticipantView: bodies.AddParticipantBody,
    views.RemoveParticipantView: bodies.RemoveParticipantBody,
    views.CancelAddParticipantView: bodies.CancelAddBody,
    views.MuteParticipantView: bodies.MuteBody,
    views.PlayView: media_bodies.PlayBody,
    views.RecognizeView: media_bodies.RecognizeBody,
    views.ContinuousDtmfView: media_bodies.TargetBody,
    views.SendDtmfView: media_bodies.SendDtmfBody,
    views.HoldView: media_bodies.HoldBody,
    # The transcription routes that take a locale read LocaleBody, the others OperationBody.
    streaming_views.StreamingView: streaming_bodies.LocaleBody,
    views.OutOfCallAddView: bodies.OutOfCallAddBody,
    views.OutOfCallRemoveView: bodies.OutOfCallRemoveBody,
    recording_views.StartRecordingView: recording_bodies.StartRecordingBody,
}
# Routes that end a call (hang up, terminate).
ENDING = {views.CallConnectionView, views.TerminateView}
# Routes that take no body (they get junk anyway).
BODILESS = {
    views.CallConnectionView,
    views.TerminateView,
    views.ParticipantsView,
    views.ParticipantView,
    views.CancelAllMediaView,
    views.NotSupportedView,
    recording_views.RecordingView,
    recording_views.PauseView,
    recording_views.ResumeView,
}

# --- strategies -------------------------------------------------------------------------

SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JUNK = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
NUMBERS = [CALLER, CALLEE, SLOW, "+14255550124", "+14255550199", "+1555123456"]
URLS = ["http://127.0.0.1:9/cb", "https://127.0.0.1:9/cb", "ftp://127.0.0.1/x", "http://10.0.0.1/x"]


def junk_or(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly `valid`, sometimes anything."""
    return st.one_of(valid, valid, valid, JUNK)


class Shapes:
    """Strategies for the wire shapes; with `junk`, every part may also be anything."""

    def __init__(self, junk: bool) -> None:
        j = junk_or if junk else (lambda valid: valid)
        self.j, self.junk = j, junk
        phone = st.sampled_from(NUMBERS if junk else [CALLEE, SLOW, "+14255550124"])
        url = st.sampled_from(URLS if junk else URLS[:1])
        self.url = j(url)
        self.identifier = j(
            st.one_of(
                phone.map(lambda n: {"rawId": f"4:{n}", "phoneNumber": {"value": n}}),
                phone.map(lambda n: {"phoneNumber": {"value": n}}),
                st.sampled_from(["8:acs:resource_customer", "8:acs:x_y"]).map(
                    lambda u: {"communicationUser": {"id": u}}
                ),
                *(
                    [
                        st.text(max_size=30).map(lambda raw: {"rawId": raw}),
                        st.just({"microsoftTeamsUser": {"userId": "x"}}),
                        st.fixed_dictionaries(
                            {"kind": st.sampled_from(["phoneNumber", "communicationUser", "x"])},
                            optional={"rawId": st.text(max_size=12), "phoneNumber": JUNK},
                        ),
                    ]
                    if junk
                    else []
                ),
            )
        )
        text = st.text(max_size=30) if junk else st.sampled_from(["Hello.", "Press 1."])
        self.play_source = j(
            st.one_of(
                st.fixed_dictionaries(
                    {"kind": st.just("file"), "file": st.fixed_dictionaries({"uri": self.url})},
                    optional={"playSourceCacheId": j(st.text(max_size=20))},
                ),
                st.fixed_dictionaries(
                    {
                        "kind": st.just("text"),
                        "text": st.fixed_dictionaries(
                            {"text": j(text)},
                            optional={
                                "sourceLocale": j(st.sampled_from(["en-US", "de-DE"])),
                                "voiceKind": j(st.sampled_from(["male", "female"])),
                            },
                        ),
                    },
                ),
                *([st.just({"kind": "ssml", "ssml": {"ssmlText": "<speak/>"}})] if junk else []),
            )
        )
        tone_names = (
            [*media_bodies.TONE_NAMES, "Pound", "ten", ""] if junk else media_bodies.TONE_NAMES
        )
        self.tones = j(
            st.lists(
                st.sampled_from(tone_names), min_size=0 if junk else 1, max_size=20 if junk else 5
            )
        )
        locator_kinds = ["serverCallLocator", "groupCallLocator", "roomCallLocator"]
        self.locator = j(
            st.fixed_dictionaries(
                {"kind": j(st.sampled_from(locator_kinds if junk else locator_kinds[:1]))},
                optional={
                    "serverCallId": j(st.text(max_size=40)),
                    "groupCallId": j(st.uuids().map(str)),
                },
            )
        )
        dtmf = st.fixed_dictionaries(
            {},
            optional={
                "maxTonesToCollect": j(
                    st.integers(min_value=-1 if junk else 1, max_value=40 if junk else 30)
                ),
                "interToneTimeoutInSeconds": j(st.floats(-1 if junk else 1, 100 if junk else 60)),
                "stopTones": self.tones,
            },
        )
        self.recognize_options = j(
            st.fixed_dictionaries(
                {} if junk else {"targetParticipant": self.identifier},
                optional={
                    **({"targetParticipant": self.identifier} if junk else {}),
                    "initialSilenceTimeoutInSeconds": j(
                        st.integers(-5 if junk else 1, 400 if junk else 300)
                    ),
                    "interruptPrompt": j(st.booleans()),
                    "dtmfOptions": j(dtmf),
                    **({"speechOptions": JUNK, "choices": JUNK} if junk else {}),
                },
            )
        )
        channel = st.fixed_dictionaries(
            {"participant": self.identifier},
            optional={"channel": j(st.integers(-2 if junk else 0, 70))},
        )
        identifiers = j(st.lists(self.identifier, min_size=0 if junk else 1, max_size=3))
        # Fields whose meaning the type alone does not tell, by wire name.
        self.by_name: dict[str, st.SearchStrategy] = {
            "targets": identifiers,
            "targetParticipants": j(
                st.lists(self.identifier, min_size=0 if junk else 1, max_size=1)
            ),
            "playTo": identifiers,
            "playSources": j(st.lists(self.play_source, min_size=0 if junk else 1, max_size=3)),
            "playPrompts": j(st.lists(self.play_source, max_size=2)),
            "playPrompt": self.play_source,
            "playSourceInfo": self.play_source,
            "playOptions": j(st.fixed_dictionaries({}, optional={"loop": j(st.booleans())})),
            "recognizeOptions": self.recognize_options,
            "recognizeInputType": j(
                st.sampled_from(["dtmf", "speech", "choices", "x"] if junk else ["dtmf"])
            ),
            "tones": self.tones,
            "sourceCallerIdNumber": j(
                st.sampled_from(NUMBERS if junk else [CALLER]).map(lambda n: {"value": n})
            ),
            "source": self.identifier,
            "transferee": self.identifier,
            "callLocator": self.locator,
            "channelAffinity": j(st.lists(channel, max_size=3)),
            "audioChannelParticipantOrdering": j(st.lists(self.identifier, max_size=3)),
            "incomingCallContext": j(st.text(max_size=60)),
            "invitationId": j(st.text(max_size=70)),
            "callConnectionId": j(st.text(max_size=70)),
        }

    def field(self, name: str, field: serializers.Field) -> st.SearchStrategy:
        """A strategy for one serializer field: its shape (with junk mixed in if asked)."""
        j = self.j
        if name in self.by_name:
            return self.by_name[name]
        if isinstance(field, IdentifierField):
            return self.identifier
        if isinstance(field, CallbackUriField):
            return self.url
        if isinstance(field, StrictBooleanField | serializers.BooleanField):
            return j(st.booleans())
        if isinstance(field, serializers.ChoiceField):
            return j(st.sampled_from([*field.choices, "nope"]))
        if isinstance(field, serializers.IntegerField):
            if self.junk:
                return junk_or(st.integers(min_value=-(2**40), max_value=2**40))
            return st.integers(min_value=field.min_value or 0, max_value=field.max_value or 100)
        if isinstance(field, serializers.CharField):
            limit = field.max_length or 50
            return j(st.text(max_size=min(limit + 2, 80)) | st.just("x" * (limit + 1)))
        return JUNK

    def body(self, body_class: type[serializers.Serializer]) -> st.SearchStrategy:
        """A JSON object shaped like `body_class`. Valid shapes carry the required fields;
        junk ones any subset of the fields, the unsupported options and stray keys."""
        fields = body_class().get_fields()
        required = {n: self.field(n, f) for n, f in fields.items() if f.required}
        optional = {n: self.field(n, f) for n, f in fields.items() if not f.required}
        if self.junk:
            optional = {
                **required,
                **optional,
                **dict.fromkeys(getattr(body_class, "unsupported", {}), JUNK),
                "unknownField": JUNK,
            }
            required = {}
        return st.fixed_dictionaries(required, optional=optional)


VALID, MUTATED = Shapes(junk=False), Shapes(junk=True)


def raw_body(route: Route) -> st.SearchStrategy:
    """The bytes to send: usually a shaped body as JSON (valid or mutated), else junk JSON
    or not JSON at all."""
    shape = BODIES.get(route.view)
    json_bodies = st.one_of(
        *([VALID.body(shape)] * 3 + [MUTATED.body(shape)] * 3 if shape else []),
        JUNK,
        st.just({}),
    ).map(lambda value: json.dumps(value).encode())
    junk_bytes = st.one_of(
        st.binary(max_size=40),
        st.just(b'{"targets": [NaN]}'),
        st.just(b"\xff\xfe{}"),
        st.just(b'{"a": "\\ud800"}'),
        st.just(b""),
    )
    return st.one_of(json_bodies, json_bodies, json_bodies, junk_bytes)


SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/:?#"),
    min_size=1,
    max_size=40,
)
HEADER_VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=140
)


@st.composite
def requests(draw: st.DrawFn, routes: list[Route], ids: dict[str, list[str]]) -> dict[str, Any]:
    # Routes that end a call come up less often, so the live calls last through the run.
    ending = [r for r in routes if r.view in ENDING]
    route = draw(st.sampled_from([r for r in routes if r not in ending] * 4 + ending))
    # Mostly what the route answers; now and then a method it does not.
    method = draw(st.sampled_from([*route.methods] * 16 + ["PUT", "PATCH", "GET"]))
    if route.view in ENDING and method == "DELETE" and draw(st.integers(0, 3)):
        method = "GET"
    values = {name: draw(st.sampled_from(known * 3) | SEGMENT) for name, known in ids.items()}
    path = route.path("acme", **{name: quote(value, safe="") for name, value in values.items()})
    headers = {}
    if draw(st.booleans()):
        headers["Repeatability-Request-ID"] = draw(st.uuids().map(str) | HEADER_VALUE)
        if draw(st.booleans()):
            headers["Repeatability-First-Sent"] = draw(
                st.sampled_from(["Thu, 03 Dec 2026 05:00:00 GMT"] * 4) | HEADER_VALUE
            )
    content_type = draw(
        st.sampled_from(
            ["application/json"] * 8 + ["text/plain", "application/json; charset=latin-1"]
        )
    )
    return {
        "route": route,
        "method": method,
        "path": path,
        "body": draw(raw_body(route)) if method != "GET" else b"",
        "headers": headers,
        "content_type": content_type,
    }


# --- the call the fuzz acts on ----------------------------------------------------------


@pytest.fixture
def live_ids(tenant, gateway) -> dict[str, list[str]]:
    """Connected calls (each with a ringing invitee, one recorded): the real ids to mix in.
    Several, so that one hung up early by the fuzz leaves others to act on."""
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{SLOW}", answer_after=100)
    connections = []
    for _ in range(3):
        connection = call_verbs.create_call(
            tenant,
            targets=[Identifier.phone(CALLEE)],
            callback_uri="http://127.0.0.1:9/cb",
            source_caller_id=CALLER,
        )
        gateway.advance(2)
        participant_verbs.add_participant(
            tenant, connection.call_connection_id, target=Identifier.phone(SLOW)
        )
        gateway.advance(1)
        connections.append(CallConnection.unscoped.select_related("call").get(pk=connection.pk))
    recording = recording_services.start_recording(
        tenant,
        actor=None,
        options=RecordingOptions(),
        call_connection_id=connections[0].call_connection_id,
    )
    return {
        "call_connection_id": [c.call_connection_id for c in connections],
        "server_call_id": [c.call.server_call_id for c in connections],
        "recording_id": [recording.recording_id],
        "raw_id": [f"4:{CALLEE}", f"4:{SLOW}"],
    }


def calling_routes() -> list[Route]:
    return [route for route in api_routes() if route.is_calling]


def test_every_calling_route_has_a_body_shape():
    """A new route must say what it reads, or the fuzz would send it only junk."""
    for route in calling_routes():
        if "POST" in route.methods and route.view is not UnknownCallingRoute:
            assert route.view in BODIES or route.view in BODILESS, route.template


def test_the_calling_routes_answer_any_request_without_a_server_error(
    client, tenant, live_ids, report_totals
):
    routes = calling_routes()
    key = key_of(tenant)
    client.raise_request_exception = False  # a crash is a 500 to report, with its input
    seen: dict[int, int] = {}

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(routes, live_ids))
    def send(request: dict[str, Any]) -> None:
        target = f"{request['path']}?api-version=2026-03-12"
        body = request["body"]
        signed = sign_headers(request["method"], target, body, key, "testserver/t/acme")
        response = client.generic(
            request["method"],
            target,
            data=body,
            content_type=request["content_type"] if body else None,
            headers={**signed, **request["headers"]},
            RAW_URI=target,
        )
        status = response.status_code
        seen[status] = seen.get(status, 0) + 1
        context = (request["method"], target, body[:300], response.content[:500])
        assert status < 500, context
        if status >= 400:
            assert_error(response, status)
        elif response.content:
            assert response["Content-Type"].startswith("application/json"), context
            json.loads(response.content)

    send()
    statuses = dict(sorted(seen.items()))
    report_totals(f"/calling fuzz: {sum(seen.values())} requests, statuses {statuses}")
    assert sum(seen.values()) >= min(EXAMPLES, 50)
