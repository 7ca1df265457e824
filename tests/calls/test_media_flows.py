"""Call media end to end: the official SDK, the gateway's simulated carrier on a virtual
clock, real audio (espeak-ng speech, WAV files from a loopback server), callbacks."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.communication.callautomation import (
    DtmfTone,
    FileSource,
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)
from azure.core.exceptions import HttpResponseError

from calls.models import MediaOperation, Participant, SimulatedCallee
from carrier.media.audio import silence
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+14255550100"
CALLEE = "+14255550123"
SECOND = "+14255550124"
WAV_SECONDS = 1.5


@pytest.fixture(scope="module")
def media_server():
    """Serves /prompt.wav (1.5 s), /notes.txt (not audio); anything else is 404."""
    wav = silence(WAV_SECONDS).to_wav()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"/prompt.wav": wav, "/not-a-wav.wav": b"just some text"}.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def connected(tenant, sdk_client, callbacks, gateway):
    """A connected 1:1 call to CALLEE; returns its CallConnectionClient."""
    tenant_services.add_phone_number(tenant, CALLER, actor=None)

    def start(*targets: str):
        client = sdk_client()
        identifiers = [PhoneNumberIdentifier(t) for t in targets or (CALLEE,)]
        props = client.create_call(
            identifiers if len(identifiers) > 1 else identifiers[0],
            callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(CALLER),
        )
        gateway.advance(2)
        return client.get_call_connection(props.call_connection_id)

    return start


def keys(tenant, *presses, raw_id=f"4:{CALLEE}"):
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=raw_id, keys=[list(p) for p in presses])


def media_types(callbacks) -> list[str]:
    skip = {"CallConnected", "ParticipantsUpdated", "CallDisconnected"}
    return [t for t in callbacks.types() if t not in skip]


def test_a_file_plays_to_everyone_for_its_real_duration(
    connected, callbacks, gateway, media_server
):
    connection = connected()

    connection.play_media(FileSource(f"{media_server}/prompt.wav"), operation_context="p1")
    gateway.advance(WAV_SECONDS - 0.1)
    assert media_types(callbacks) == ["PlayStarted"]
    gateway.advance(0.2)

    assert media_types(callbacks) == ["PlayStarted", "PlayCompleted"]
    assert callbacks.of_type("PlayCompleted")[0]["data"]["operationContext"] == "p1"


def test_a_file_plays_to_one_participant(connected, callbacks, gateway, media_server):
    connection = connected(CALLEE, SECOND)

    connection.play_media(
        FileSource(f"{media_server}/prompt.wav"), play_to=[PhoneNumberIdentifier(SECOND)]
    )
    gateway.advance(2)

    assert media_types(callbacks) == ["PlayStarted", "PlayCompleted"]
    assert MediaOperation.unscoped.get().targets == [f"4:{SECOND}"]


def test_speech_plays_for_as_long_as_the_spoken_text(connected, callbacks, gateway):
    connection = connected()

    connection.play_media(TextSource(text="Your appointment is on Tuesday.", voice_kind="female"))
    gateway.advance(0.5)
    assert media_types(callbacks) == ["PlayStarted"]
    gateway.advance(10)

    assert media_types(callbacks) == ["PlayStarted", "PlayCompleted"]


@pytest.mark.parametrize(("path", "sub_code"), [("/missing.wav", 8536), ("/not-a-wav.wav", 8535)])
def test_an_unplayable_file_fails_with_its_reason(
    connected, callbacks, gateway, media_server, path, sub_code
):
    connection = connected()

    connection.play_media([TextSource(text="Hello"), FileSource(f"{media_server}{path}")])
    gateway.advance(1)

    [failed] = callbacks.of_type("PlayFailed")
    assert failed["data"]["resultInformation"]["subCode"] == sub_code
    assert failed["data"]["failedPlaySourceIndex"] == 1


def test_empty_text_fails_with_8582(connected, callbacks, gateway):
    connected().play_media(TextSource(text="  "))
    gateway.advance(1)

    assert callbacks.of_type("PlayFailed")[0]["data"]["resultInformation"]["subCode"] == 8582


def recognize(connection, **options):
    connection.start_recognizing_media(
        RecognizeInputType.DTMF,
        PhoneNumberIdentifier(CALLEE),
        play_prompt=options.pop("prompt", TextSource(text="Press one to confirm.")),
        **options,
    )


def recognized(callbacks) -> tuple[list[str], int]:
    [event] = callbacks.of_type("RecognizeCompleted")
    return event["data"]["dtmfResult"]["tones"], event["data"]["resultInformation"]["subCode"]


def test_recognize_completes_at_max_tones(tenant, connected, callbacks, gateway):
    keys(tenant, (1, "1", "prompt"), (5, "2", "prompt"), (5.5, "3", "prompt"))
    connection = connected()

    recognize(connection, dtmf_max_tones_to_collect=2)
    gateway.advance(10)

    assert recognized(callbacks) == (["two", "three"], 8531)  # "1" fell on the prompt


def test_a_stop_tone_ends_recognition(tenant, connected, callbacks, gateway):
    keys(tenant, (4, "4", "prompt"), (4.5, "2", "prompt"), (5, "#", "prompt"))
    connection = connected()

    recognize(connection, dtmf_max_tones_to_collect=5, dtmf_stop_tones=[DtmfTone.POUND])
    gateway.advance(10)

    assert recognized(callbacks) == (["four", "two"], 8514)


def test_an_inter_tone_timeout_returns_the_tones_so_far(tenant, connected, callbacks, gateway):
    keys(tenant, (4, "7", "prompt"))
    connection = connected()

    recognize(connection, dtmf_max_tones_to_collect=4, dtmf_inter_tone_timeout=2)
    gateway.advance(5.9)
    assert callbacks.of_type("RecognizeCompleted") == []
    gateway.advance(0.2)

    assert recognized(callbacks) == (["seven"], 8532)


def test_initial_silence_fails_recognition(connected, callbacks, gateway):
    connection = connected()

    recognize(connection, initial_silence_timeout=3)
    gateway.advance(10)

    [failed] = callbacks.of_type("RecognizeFailed")
    assert failed["data"]["resultInformation"]["subCode"] == 8510


def test_interrupt_prompt_collects_a_key_pressed_over_the_prompt(
    tenant, connected, callbacks, gateway
):
    keys(tenant, (0.5, "1", "prompt"))
    connection = connected()

    recognize(connection, interrupt_prompt=True)
    gateway.advance(0.6)

    assert recognized(callbacks) == (["one"], 8531)


def test_a_failing_prompt_fails_recognition_with_8511(connected, callbacks, gateway, media_server):
    recognize(connected(), prompt=FileSource(f"{media_server}/missing.wav"))
    gateway.advance(1)

    assert callbacks.of_type("RecognizeFailed")[0]["data"]["resultInformation"]["subCode"] == 8511


def test_cancel_all_media_cancels_a_play_and_a_queued_recognize(connected, callbacks, gateway):
    connection = connected()
    connection.play_media(TextSource(text="A long message " * 5))
    recognize(connection)
    gateway.advance(0.5)

    connection.cancel_all_media_operations()
    gateway.advance(30)

    assert media_types(callbacks) == ["PlayStarted", "PlayCanceled", "RecognizeCanceled"]
    assert callbacks.of_type("PlayCanceled")[0]["data"]["resultInformation"]["subCode"] == 8508


def test_cancel_during_recognition(tenant, connected, callbacks, gateway):
    connection = connected()
    recognize(connection, initial_silence_timeout=10)
    gateway.advance(4)

    connection.cancel_all_media_operations()
    gateway.advance(20)

    assert media_types(callbacks) == ["RecognizeCanceled"]


def test_a_second_play_waits_for_the_first_unless_it_interrupts(
    connected, callbacks, gateway, media_server
):
    connection = connected()
    connection.play_media(FileSource(f"{media_server}/prompt.wav"), operation_context="first")
    connection.play_media(FileSource(f"{media_server}/prompt.wav"), operation_context="second")
    gateway.advance(WAV_SECONDS * 2 + 0.5)
    contexts = [e["data"]["operationContext"] for e in callbacks.of_type("PlayCompleted")]
    assert contexts == ["first", "second"]

    connection.play_media(
        FileSource(f"{media_server}/prompt.wav"), loop=True, operation_context="loop"
    )
    gateway.advance(10)
    connection.play_media_to_all(
        FileSource(f"{media_server}/prompt.wav"),
        interrupt_call_media_operation=True,
        operation_context="urgent",
    )
    gateway.advance(WAV_SECONDS + 0.5)

    [canceled] = callbacks.of_type("PlayCanceled")
    assert canceled["data"]["operationContext"] == "loop"
    assert callbacks.of_type("PlayCompleted")[-1]["data"]["operationContext"] == "urgent"


def test_continuous_dtmf_reports_each_key_in_sequence(tenant, connected, callbacks, gateway):
    keys(tenant, (3, "5"), (4, "*"), (5, "9"))
    connection = connected()

    connection.start_continuous_dtmf_recognition(PhoneNumberIdentifier(CALLEE))
    gateway.advance(6)
    connection.stop_continuous_dtmf_recognition(
        PhoneNumberIdentifier(CALLEE), operation_context="s"
    )

    tones = callbacks.of_type("ContinuousDtmfRecognitionToneReceived")
    assert [(e["data"]["tone"], e["data"]["sequenceId"]) for e in tones] == [
        ("five", 1),
        ("asterisk", 2),
        ("nine", 3),
    ]
    assert (
        callbacks.of_type("ContinuousDtmfRecognitionStopped")[0]["data"]["operationContext"] == "s"
    )


def test_send_dtmf_tones_completes(connected, callbacks, gateway):
    result = connected().send_dtmf_tones(
        [DtmfTone.ONE, DtmfTone.POUND], PhoneNumberIdentifier(CALLEE), operation_context="dtmf"
    )
    gateway.advance(1)

    assert result.operation_context == "dtmf"
    assert callbacks.of_type("SendDtmfTonesCompleted")[0]["data"]["operationContext"] == "dtmf"


def test_hold_and_unhold_with_music(connected, callbacks, gateway, media_server):
    connection = connected()
    target = PhoneNumberIdentifier(CALLEE)

    connection.hold(target, play_source=FileSource(f"{media_server}/prompt.wav"))
    gateway.advance(5)
    assert connection.get_participant(target).is_on_hold is True
    assert MediaOperation.unscoped.get(kind="hold_music").state == "running"

    connection.unhold(target)
    gateway.advance(1)

    assert connection.get_participant(target).is_on_hold is False
    assert MediaOperation.unscoped.get(kind="hold_music").state == "canceled"
    rosters = callbacks.of_type("ParticipantsUpdated")
    assert [r["data"]["participants"][0]["isOnHold"] for r in rosters[-2:]] == [True, False]


def test_the_appointment_reminder_flow(tenant, connected, callbacks, gateway):
    keys(tenant, (6, "1", "prompt"))  # after the prompt ends
    connection = connected()
    assert callbacks.types()[0] == "CallConnected"

    recognize(
        connection,
        prompt=TextSource(text="Your appointment is Tuesday at 2:30 PM. Press 1 to confirm."),
        operation_context="reminder",
    )
    gateway.advance(15)
    assert recognized(callbacks) == (["one"], 8531)

    connection.play_media_to_all(TextSource(text="Thank you, goodbye."), operation_context="bye")
    gateway.advance(5)
    assert callbacks.of_type("PlayCompleted")[0]["data"]["operationContext"] == "bye"

    connection.hang_up(is_for_everyone=True)

    assert callbacks.types()[-1] == "CallDisconnected"
    assert Participant.unscoped.get().state == "disconnected"


def test_a_file_on_a_forbidden_address_is_refused(connected, callbacks, gateway, settings):
    connection = connected()
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1/32"]  # the callback receiver only

    with pytest.raises(HttpResponseError) as caught:
        connection.play_media(FileSource("http://127.0.0.2:8080/prompt.wav"))

    assert caught.value.status_code == 400
    assert "loopback" in caught.value.error.message
    assert not MediaOperation.unscoped.exists()
