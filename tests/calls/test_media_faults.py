"""Faults in call media must stay inside the call they happen in (issue 12): a looped play
stopped mid-loop, a participant removed while media was on its way to them, a driver that
fails on a command, an event the engine cannot read. The official SDK, the gateway's
simulated carrier on a virtual clock, callbacks into a real HTTP receiver; where a driver
must misbehave, a carrier subclass plays the broken network (the edge of the world)."""

import logging
import threading
from array import array
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.communication.callautomation import (
    DtmfTone,
    FileSource,
    PhoneNumberIdentifier,
    RecognizeInputType,
)

from calls import call_verbs
from calls.gateway import Gateway
from calls.identifiers import Identifier
from calls.models import Call, CarrierCommand, MediaOperation, SimulatedCallee
from carrier.interface import MediaOutcome
from carrier.media.audio import Audio
from carrier.simulated.driver import FAULT, SimulatedCarrier
from tenants import services as tenant_services
from tests.calls.conftest import GatewayHarness
from tests.deadline import deadline

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+14255550100"
CALLEE = "+14255550123"
SECOND = "+14255550124"

LOOP_SAMPLES = 5600  # 0.7 s: no float multiple of it lands on 2.5 s, which stalled the taping


@pytest.fixture(scope="module")
def loop_server():
    """Serves /loop.wav (0.7 s)."""
    wav = Audio(array("h", (i % 400 for i in range(LOOP_SAMPLES))).tobytes()).to_wav()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = wav if self.path == "/loop.wav" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/loop.wav"
    server.shutdown()


class BrokenPlayback(SimulatedCarrier):
    """A driver whose playback is broken: every play raises."""

    def play(self, command: object) -> None:
        raise RuntimeError("the media server's playback engine crashed")


class GarbledRecognition(SimulatedCarrier):
    """A driver that reports recognized keys no engine knows."""

    def poll(self) -> list:
        return [
            replace(event, detail={**event.detail, "tones": ["?"]})
            if event.kind == MediaOutcome.RECOGNIZED
            else event
            for event in super().poll()
        ]


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def connected(tenant, sdk_client, callbacks, gateway):
    """Place a call to the given numbers (CALLEE by default) and let them answer; returns
    its CallConnectionClient."""
    tenant_services.add_phone_number(tenant, CALLER, actor=None)

    def start(*numbers: str):
        client = sdk_client()
        targets = [PhoneNumberIdentifier(n) for n in numbers or (CALLEE,)]
        props = client.create_call(
            targets if len(targets) > 1 else targets[0],
            callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(CALLER),
        )
        gateway.advance(2)
        return client.get_call_connection(props.call_connection_id)

    return start


@pytest.fixture
def gateway(request):
    """The usual harness; `indirect` parametrization swaps in a broken driver."""
    harness = GatewayHarness()
    carrier_class = getattr(request, "param", None)
    if carrier_class is not None:
        harness.carrier = carrier_class(harness.clock)
        harness.gateway = Gateway(harness.carrier)
    return harness


def media_types(callbacks) -> list[str]:
    skip = {"CallConnected", "ParticipantsUpdated", "CallDisconnected"}
    return [t for t in callbacks.types() if t not in skip]


def sub_code(callbacks, event_type: str) -> int:
    [event] = callbacks.of_type(event_type)
    return event["data"]["resultInformation"]["subCode"]


# --- defect 1: a looped play stopped mid-loop stalled the gateway ---------------------------


@pytest.mark.parametrize("stop", ["cancel_all_media", "interrupt", "hang_up"])
def test_a_looped_play_stopped_mid_loop_leaves_the_gateway_running(
    stop, connected, callbacks, gateway, loop_server
):
    connection = connected()
    connection.play_media(FileSource(loop_server), loop=True, operation_context="loop")
    gateway.advance(2.5)

    with deadline(10):
        if stop == "cancel_all_media":
            connection.cancel_all_media_operations()
        elif stop == "interrupt":
            connection.play_media_to_all(
                FileSource(loop_server),
                interrupt_call_media_operation=True,
                operation_context="now",
            )
        else:
            connection.hang_up(is_for_everyone=True)
        gateway.advance(1)

    if stop == "hang_up":
        assert callbacks.types()[-1] == "CallDisconnected"
        assert Call.unscoped.get().state == Call.State.DISCONNECTED
    else:
        assert callbacks.of_type("PlayCanceled")[0]["data"]["operationContext"] == "loop"
    if stop == "interrupt":
        assert callbacks.of_type("PlayCompleted")[0]["data"]["operationContext"] == "now"


# --- defect 2: removing a participant whose media was on its way ----------------------------


def test_tones_sent_to_a_participant_removed_at_once_fail_as_canceled(
    connected, callbacks, gateway
):
    connection = connected(CALLEE, SECOND)

    connection.send_dtmf_tones([DtmfTone.ONE], PhoneNumberIdentifier(SECOND), operation_context="t")
    connection.remove_participant(PhoneNumberIdentifier(SECOND))
    gateway.advance(1)

    assert media_types(callbacks) == ["RemoveParticipantSucceeded", "SendDtmfTonesFailed"]
    assert sub_code(callbacks, "SendDtmfTonesFailed") == 8508
    assert MediaOperation.unscoped.get().state == MediaOperation.State.CANCELED
    assert not CarrierCommand.unscoped.filter(state=CarrierCommand.State.FAILED).exists()
    # The call goes on for the others.
    connection.send_dtmf_tones([DtmfTone.TWO], PhoneNumberIdentifier(CALLEE))
    gateway.advance(1)
    assert media_types(callbacks)[-1] == "SendDtmfTonesCompleted"


def test_a_play_to_a_participant_removed_at_once_is_canceled(
    connected, callbacks, gateway, loop_server
):
    connection = connected(CALLEE, SECOND)

    connection.play_media(FileSource(loop_server), play_to=[PhoneNumberIdentifier(SECOND)])
    connection.remove_participant(PhoneNumberIdentifier(SECOND))
    gateway.advance(1)

    assert media_types(callbacks) == ["RemoveParticipantSucceeded", "PlayCanceled"]
    assert sub_code(callbacks, "PlayCanceled") == 8508
    assert not CarrierCommand.unscoped.filter(state=CarrierCommand.State.FAILED).exists()


def test_removing_a_participant_cancels_their_plays_and_starts_what_waited_behind(
    connected, callbacks, gateway, loop_server
):
    connection = connected(CALLEE, SECOND)
    connection.play_media(
        FileSource(loop_server), play_to=[PhoneNumberIdentifier(SECOND)], loop=True,
        operation_context="theirs",
    )  # fmt: skip
    connection.play_media(
        FileSource(loop_server), play_to=[PhoneNumberIdentifier(SECOND)], operation_context="next"
    )
    connection.play_media_to_all(FileSource(loop_server), operation_context="everyone")
    gateway.advance(1)

    connection.remove_participant(PhoneNumberIdentifier(SECOND))
    gateway.advance(1)

    canceled = [e["data"]["operationContext"] for e in callbacks.of_type("PlayCanceled")]
    assert canceled == ["theirs", "next"]
    completed = [e["data"]["operationContext"] for e in callbacks.of_type("PlayCompleted")]
    assert completed == ["everyone"]


def test_a_participant_who_hangs_up_has_their_recognize_canceled(
    tenant, connected, callbacks, gateway
):
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{SECOND}", hang_up_after=2)
    connection = connected(CALLEE, SECOND)
    connection.start_recognizing_media(
        RecognizeInputType.DTMF, PhoneNumberIdentifier(SECOND), initial_silence_timeout=10
    )

    gateway.advance(3)

    assert media_types(callbacks) == ["RecognizeCanceled"]
    assert sub_code(callbacks, "RecognizeCanceled") == 8508
    assert Call.unscoped.get().state == Call.State.CONNECTED  # the app and CALLEE stay


def test_the_app_leaving_a_call_the_others_stay_in_stops_its_media(
    connected, callbacks, gateway, loop_server
):
    connection = connected(CALLEE, SECOND)
    connection.play_media_to_all(FileSource(loop_server), loop=True)
    connection.start_recognizing_media(RecognizeInputType.DTMF, PhoneNumberIdentifier(CALLEE))
    gateway.advance(1)

    connection.hang_up(is_for_everyone=False)
    gateway.advance(1)

    assert Call.unscoped.get().state == Call.State.CONNECTED  # the two stay
    states = set(MediaOperation.unscoped.values_list("state", flat=True))
    assert states == {MediaOperation.State.CANCELED}
    assert callbacks.types()[-1] == "CallDisconnected"  # and the app hears no more


# --- a command or event that fails fails its own call or operation only --------------------


@pytest.fixture
def second_tenant(other_tenant, callbacks):
    """Another tenant's call, placed at the same moment as the test's own."""
    tenant_services.add_phone_number(other_tenant, "+14255550300", actor=None)

    def place() -> str:
        return call_verbs.create_call(
            other_tenant,
            targets=[Identifier.phone("+14255550301")],
            callback_uri=callbacks.url,
            source_caller_id="+14255550300",
        ).call_connection_id

    return place


def test_a_dial_the_driver_fails_on_fails_only_its_own_call(
    tenant, second_tenant, callbacks, gateway, caplog
):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id="4:+14255550666", outcome=FAULT)
    doomed = call_verbs.create_call(
        tenant, targets=[Identifier.phone("+14255550666")], callback_uri=callbacks.url,
        source_caller_id=CALLER,
    )  # fmt: skip
    fine = second_tenant()

    with caplog.at_level(logging.ERROR, logger="calls.gateway"):
        gateway.advance(2)

    by_connection = {}
    for event in callbacks.events:
        kind = event["type"].removeprefix("Microsoft.Communication.")
        by_connection.setdefault(event["data"]["callConnectionId"], []).append(kind)
    assert by_connection[doomed.call_connection_id] == ["CreateCallFailed"]
    assert by_connection[fine][0] == "CallConnected"
    failed = callbacks.of_type("CreateCallFailed")[0]["data"]["resultInformation"]
    assert failed["code"] == 500
    assert Call.unscoped.get(pk=doomed.call_id).state == Call.State.DISCONNECTED
    [command] = CarrierCommand.unscoped.filter(state=CarrierCommand.State.FAILED)
    assert command.kind == CarrierCommand.Kind.DIAL
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "dial command" in record.getMessage()
    assert "scripted driver fault" in str(record.exc_info[1])
    # The driver forgot the half-dialled leg (a gateway runs for months).
    assert str(doomed.targets[0].leg_id) not in gateway.carrier.live_legs()


@pytest.mark.parametrize("gateway", [BrokenPlayback], indirect=True)
def test_a_play_the_driver_fails_on_fails_with_play_failed_and_the_call_goes_on(
    connected, callbacks, gateway, loop_server, caplog
):
    connection = connected()

    with caplog.at_level(logging.ERROR, logger="calls.gateway"):
        connection.play_media(FileSource(loop_server), operation_context="p")
        gateway.advance(1)

    [failed] = callbacks.of_type("PlayFailed")
    assert failed["data"]["operationContext"] == "p"
    assert failed["data"]["resultInformation"]["code"] == 500
    assert any("media_start command" in r.getMessage() for r in caplog.records)
    connection.send_dtmf_tones([DtmfTone.NINE], PhoneNumberIdentifier(CALLEE))
    gateway.advance(1)
    assert media_types(callbacks)[-1] == "SendDtmfTonesCompleted"


@pytest.mark.parametrize("gateway", [GarbledRecognition], indirect=True)
def test_an_outcome_the_engine_cannot_read_fails_its_operation_not_the_gateway(
    tenant, connected, callbacks, gateway, caplog
):
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{CALLEE}", keys=[[3, "5"]])
    connection = connected()
    connection.start_recognizing_media(RecognizeInputType.DTMF, PhoneNumberIdentifier(CALLEE))

    with caplog.at_level(logging.ERROR, logger="calls.gateway"):
        gateway.advance(3)

    assert media_types(callbacks) == ["RecognizeFailed"]
    assert callbacks.of_type("RecognizeFailed")[0]["data"]["resultInformation"]["code"] == 500
    assert any("ingesting recognized" in r.getMessage() for r in caplog.records)
    assert Call.unscoped.get().state == Call.State.CONNECTED
