"""Media streaming and transcription end to end: the official SDK, the gateway's
simulated carrier, a real WebSocket server in the test (the app's side), callees that
speak, pocketsphinx transcribing them."""

import base64
import json
import threading
import time

import numpy as np
import pytest
from azure.communication.callautomation import (
    MediaStreamingOptions,
    PhoneNumberIdentifier,
    TranscriptionOptions,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from websockets.sync.server import serve

from calls.models import Participant, SimulatedCallee, TranscriptLine
from carrier.media import speech, tts
from carrier.media.streaming import RATE
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)

OUR_NUMBER = "+14255550100"
CALLEE = "+14255550123"
SENTENCE = "please call me back tomorrow"
WAIT = 60.0  # seconds of real time the WebSocket side (and the recognizer pool) may take


class AppSocket:
    """The app's WebSocket server: keeps what it receives, sends what it is told to."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.closed = threading.Event()
        self._outbox: list[str] = []
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/stream"

    def _handle(self, websocket) -> None:
        while True:
            with self._lock:
                outbox, self._outbox = self._outbox, []
            for message in outbox:
                websocket.send(message)
            try:
                raw = websocket.recv(timeout=0.02)
            except TimeoutError:
                continue
            except Exception:
                self.closed.set()
                return
            self.received.append(json.loads(raw))

    def send(self, message: dict) -> None:
        with self._lock:
            self._outbox.append(json.dumps(message))

    def of_kind(self, kind: str) -> list[dict]:
        return [m for m in self.received if m.get("kind") == kind]

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def app_socket():
    socket = AppSocket()
    yield socket
    socket.close()


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def call(tenant, sdk_client, callbacks, gateway):
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{CALLEE}", says=[[3, SENTENCE]])

    def start(**options):
        client = sdk_client()
        props = client.create_call(
            PhoneNumberIdentifier(CALLEE),
            callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(OUR_NUMBER),
            **options,
        )
        gateway.advance(2)
        return client.get_call_connection(props.call_connection_id)

    return start


def until(gateway, condition, step: float = 0.0) -> None:
    """Move the gateway (by `step` virtual seconds a turn) until `condition()` holds; the
    WebSocket side runs in real time."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        gateway.advance(step)
        time.sleep(0.02)


def final(app_socket) -> list[dict]:
    return [
        m
        for m in app_socket.of_kind("TranscriptionData")
        if m["transcriptionData"]["resultStatus"] == "Final"
    ]


def streaming(url: str, **more) -> MediaStreamingOptions:
    return MediaStreamingOptions(
        transport_url=url,
        transport_type="websocket",
        content_type="audio",
        audio_channel_type=more.pop("channel", "unmixed"),
        start_media_streaming=more.pop("start", False),
        enable_bidirectional=more.pop("bidirectional", True),
        audio_format=more.pop("audio_format", "Pcm16KMono"),
    )


def pcm_of(messages: list[dict]) -> np.ndarray:
    data = b"".join(base64.b64decode(m["audioData"]["data"]) for m in messages)
    return np.frombuffer(data, dtype="<i2").astype(float)


def test_the_call_audio_streams_to_the_app_and_its_audio_is_played_back(
    call, app_socket, callbacks, gateway
):
    connection = call(media_streaming=streaming(app_socket.url))
    assert connection.get_call_properties().media_streaming_subscription.state == "inactive"

    connection.start_media_streaming(operation_context="stream-1")
    until(gateway, lambda: callbacks.of_type("MediaStreamingStarted"))
    gateway.advance(6)  # the callee says its sentence 3 s after answering
    sentence = tts.render(SENTENCE, scope="x")
    frames = -(-sentence.samples // 160)  # of 20 ms
    until(gateway, lambda: len(app_socket.of_kind("AudioData")) >= frames)

    [metadata] = [m for m in app_socket.received if m["kind"] == "AudioMetadata"]
    assert metadata["audioMetadata"]["sampleRate"] == 16000
    assert app_socket.received[0]["kind"] == "AudioMetadata"
    said = [
        m
        for m in app_socket.of_kind("AudioData")
        if m["audioData"]["participantRawID"] == f"4:{CALLEE}"
    ]
    streamed = pcm_of(said)
    spoken = np.frombuffer(speech.to_model_rate(sentence.pcm), dtype="<i2").astype(float)
    # The sentence is in the stream: its best alignment correlates almost perfectly.
    scores = np.correlate(streamed, spoken, mode="valid") / (
        np.linalg.norm(spoken) * np.sqrt(np.convolve(streamed**2, np.ones(len(spoken)), "valid"))
        + 1e-9
    )
    assert scores.max() > 0.95
    event = callbacks.of_type("MediaStreamingStarted")[0]["data"]
    assert event["mediaStreamingUpdate"]["mediaStreamingStatus"] == "mediaStreamingStarted"
    assert event["operationContext"] == "stream-1"

    # Bidirectional: one second of the app's audio is heard by the callee.
    tone = (8000 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000)).astype("<i2")
    app_socket.send(
        {"Kind": "AudioData", "AudioData": {"Data": base64.b64encode(tone.tobytes()).decode()}}
    )
    leg = str(Participant.unscoped.get(raw_id=f"4:{CALLEE}").leg_id)
    until(gateway, lambda: gateway.carrier.streams.played_to.get(leg, 0) >= RATE - 2)

    connection.stop_media_streaming()
    until(gateway, lambda: callbacks.of_type("MediaStreamingStopped"))
    assert app_socket.closed.wait(WAIT)


def test_stop_audio_cuts_the_apps_audio_short(call, app_socket, callbacks, gateway):
    connection = call(media_streaming=streaming(app_socket.url, start=True))
    until(gateway, lambda: callbacks.of_type("MediaStreamingStarted"))
    leg = str(Participant.unscoped.get(raw_id=f"4:{CALLEE}").leg_id)
    frame = base64.b64encode(bytes(640)).decode()  # 20 ms at 16 kHz

    for _ in range(100):  # 2 s
        app_socket.send({"kind": "AudioData", "audioData": {"data": frame}})
    app_socket.send({"kind": "StopAudio", "stopAudio": {}})
    until(gateway, lambda: app_socket._outbox == [])
    time.sleep(0.5)
    gateway.advance(3)

    assert gateway.carrier.streams.played_to.get(leg, 0) < 2 * RATE
    assert connection.get_call_properties().media_streaming_subscription.state == "active"


def test_an_unreachable_websocket_fails_the_stream(call, callbacks, gateway):
    connection = call(media_streaming=streaming("ws://127.0.0.1:9/nobody", start=True))

    until(gateway, lambda: callbacks.of_type("MediaStreamingFailed"))

    data = callbacks.of_type("MediaStreamingFailed")[0]["data"]
    assert data["mediaStreamingUpdate"]["mediaStreamingStatus"] == "mediaStreamingFailed"
    assert connection.get_call_properties().media_streaming_subscription.state == "inactive"


def test_transcription_sends_the_spoken_sentence_and_keeps_it(call, app_socket, callbacks, gateway):
    options = TranscriptionOptions(
        transport_url=app_socket.url,
        transport_type="websocket",
        locale="en-US",
        start_transcription=True,
    )
    connection = call(transcription=options)
    until(gateway, lambda: callbacks.of_type("TranscriptionStarted"))
    gateway.advance(6)
    until(gateway, lambda: final(app_socket), step=0.0)

    assert app_socket.received[0]["kind"] == "TranscriptionMetadata"
    *partial, data = app_socket.of_kind("TranscriptionData")
    # The sentence takes ~1.7 s to say: one Intermediate result (its first second), first.
    assert [m["transcriptionData"]["resultStatus"] for m in partial] == ["Intermediate"]
    assert partial[0]["transcriptionData"]["duration"] == 10_000_000
    heard = tts.render(SENTENCE)
    start, end = speech.voiced_span(heard.pcm)
    expected = speech.shared().submit(heard.pcm[start * 2 : end * 2]).result(60).text
    assert data["transcriptionData"]["text"] == expected
    assert data["transcriptionData"]["participantRawID"] == f"4:{CALLEE}"
    assert data["transcriptionData"]["resultStatus"] == "Final"
    until(gateway, lambda: TranscriptLine.unscoped.exists())
    line = TranscriptLine.unscoped.get()
    assert (line.raw_id, line.text) == (f"4:{CALLEE}", expected)
    assert line.offset > 2.5  # said 3 s after the answer; transcription began at it

    connection.update_transcription(locale="en-US")
    gateway.advance(0)
    connection.stop_transcription()
    until(gateway, lambda: callbacks.of_type("TranscriptionStopped"))
    types = [t for t in callbacks.types() if t.startswith("Transcription")]
    assert types == ["TranscriptionStarted", "TranscriptionUpdated", "TranscriptionStopped"]


@pytest.mark.parametrize(
    ("url", "mentions"),
    [
        ("http://127.0.0.1/x", "a ws:// or wss:// URL is required"),
        ("ws://169.254.169.254/x", "this URL is not allowed"),
        ("ws://", "a ws:// or wss:// URL is required"),
    ],
)
def test_a_bad_websocket_url_is_refused(call, url, mentions):
    with pytest.raises(HttpResponseError) as refused:
        call(media_streaming=streaming(url))

    assert refused.value.status_code == 400
    assert mentions in str(refused.value)


def test_starting_without_options_or_twice_is_refused(call, app_socket, gateway):
    plain = call()
    with pytest.raises(HttpResponseError, match="mediaStreamingOptions were not given"):
        plain.start_media_streaming()
    with pytest.raises(HttpResponseError, match="transcriptionOptions were not given"):
        plain.start_transcription()

    streamed = call(media_streaming=streaming(app_socket.url, start=True))
    with pytest.raises(HttpResponseError, match="already started"):
        streamed.start_media_streaming()
    with pytest.raises(HttpResponseError, match="Transcription is not running"):
        streamed.update_transcription(locale="en-US")


def test_a_french_transcription_is_refused(call, app_socket):
    options = TranscriptionOptions(
        transport_url=app_socket.url,
        transport_type="websocket",
        locale="fr-FR",
        start_transcription=False,
    )
    with pytest.raises(HttpResponseError, match="only en-US is supported"):
        call(transcription=options)


def test_another_tenants_connection_is_not_found(call, app_socket, other_tenant, sdk_client):
    mine = call(media_streaming=streaming(app_socket.url))
    theirs = sdk_client(other_tenant).get_call_connection(mine._call_connection_id)

    for verb in (
        theirs.start_media_streaming,
        theirs.stop_media_streaming,
        theirs.start_transcription,
        theirs.stop_transcription,
    ):
        with pytest.raises(ResourceNotFoundError):
            verb()
    with pytest.raises(ResourceNotFoundError):
        theirs.update_transcription(locale="en-US")
