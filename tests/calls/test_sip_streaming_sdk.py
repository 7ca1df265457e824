"""Media streaming and transcription over a SIP trunk with the official SDK (issue 18):
SIPp is the callee (-rtp_echo: it sends back what it hears, or a pcap of espeak-ng
speech), the app's WebSocket server runs in the test, the gateway carries the call in
real time. The app's audio plays into the SIP call (StopAudio honoured), comes back
through the echo and streams to the app from the leg's decoded RTP."""

import base64
import time

import numpy as np
import pytest
from azure.communication.callautomation import (
    MediaStreamingOptions,
    PhoneNumberIdentifier,
    TextSource,
    TranscriptionOptions,
)

from carrier.media import recognition, speech, tts
from carrier.sip import g711
from tests.calls.test_media_streaming import AppSocket, final, pcm_of
from tests.calls.test_sip_speech_sdk import saying
from tests.calls.test_sip_trunk_sdk import CALLEE, CALLER, bind_trunk
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]

SENTENCE = "please call me back tomorrow"
NO_TE = {"TE": "", "TEMAP": ""}


@pytest.fixture
def app_socket():
    socket = AppSocket()
    yield socket
    socket.close()


def streaming(url: str, channel: str) -> MediaStreamingOptions:
    return MediaStreamingOptions(
        transport_url=url, transport_type="websocket", content_type="audio",
        audio_channel_type=channel, start_media_streaming=True, enable_bidirectional=True,
        audio_format="Pcm16KMono",
    )  # fmt: skip


def create(tenant, sdk_client, callbacks, sip_gateway, peer, **options):
    bind_trunk(tenant, peer.port)
    assert len(sip_gateway.sync()) == 1
    client = sdk_client()
    props = client.create_call(
        PhoneNumberIdentifier(CALLEE), callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER), **options,
    )  # fmt: skip
    sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
    return client.get_call_connection(props.call_connection_id)


def best_correlation(streamed: np.ndarray, reference: np.ndarray) -> float:
    """How well `reference` matches somewhere in `streamed` (1.0: exactly, up to gain)."""
    energy = np.convolve(streamed**2, np.ones(len(reference)), "valid")
    scores = np.correlate(streamed, reference, mode="valid") / (
        np.linalg.norm(reference) * np.sqrt(energy) + 1e-9
    )
    return float(scores.max())


def voiced_frames(messages: list[dict]) -> int:
    return sum(1 for m in messages if not m["audioData"]["silent"])


def test_the_apps_audio_plays_into_the_sip_call_and_streams_back_from_the_leg(
    tenant, sdk_client, callbacks, sip_gateway, app_socket, tmp_path
):
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(path), echo=True, timeout="60s") as peer:
        connection = create(tenant, sdk_client, callbacks, sip_gateway, peer,
                            media_streaming=streaming(app_socket.url, "unmixed"))  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("MediaStreamingStarted"))
        # The app answers with a sentence (16 kHz PCM, as it would from its own TTS).
        spoken = speech.to_model_rate(tts.render(SENTENCE).pcm)
        for start in range(0, len(spoken), 640):
            chunk = base64.b64encode(spoken[start : start + 640]).decode()
            app_socket.send({"kind": "AudioData", "audioData": {"data": chunk}})
        sip_gateway.run_for(len(spoken) / 32000 + 1.5)
        echoed = list(app_socket.of_kind("AudioData"))
        # StopAudio: 10 s of the app's audio, cut after about one.
        noise = (np.random.default_rng(1).normal(0, 4000, 16000 * 10)).astype("<i2").tobytes()
        for start in range(0, len(noise), 640):
            chunk = base64.b64encode(noise[start : start + 640]).decode()
            app_socket.send({"kind": "AudioData", "audioData": {"data": chunk}})
        sip_gateway.run_for(1.0)
        app_socket.send({"kind": "StopAudio", "stopAudio": {}})
        sip_gateway.run_for(3.0)
        connection.stop_media_streaming()
        sip_gateway.run_until(lambda: callbacks.of_type("MediaStreamingStopped"))
        assert app_socket.closed.wait(10)
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()

    assert app_socket.received[0]["kind"] == "AudioMetadata"
    assert app_socket.received[0]["audioMetadata"]["sampleRate"] == 16000
    assert {m["audioData"]["participantRawID"] for m in echoed} == {f"4:{CALLEE}"}
    reference = np.frombuffer(spoken, dtype="<i2").astype(float)
    assert best_correlation(pcm_of(echoed), reference) > 0.8
    # Continuous, as ACS streams: ~50 frames a second, silent ones flagged.
    assert len(echoed) >= 40 * (len(spoken) / 32000 + 1)
    after = app_socket.of_kind("AudioData")[len(echoed) :]
    assert 20 <= voiced_frames(after) <= 100  # ~1 s of the 10 s came back, not more


def test_a_mixed_stream_is_one_signal_with_the_prompt_the_callee_echoed(
    tenant, sdk_client, callbacks, sip_gateway, app_socket, tmp_path
):
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(path), echo=True, timeout="60s") as peer:
        connection = create(tenant, sdk_client, callbacks, sip_gateway, peer,
                            media_streaming=streaming(app_socket.url, "mixed"))  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("MediaStreamingStarted"))
        connection.play_media_to_all(TextSource(text=SENTENCE))
        sip_gateway.run_until(lambda: callbacks.of_type("PlayCompleted"), timeout=20)
        sip_gateway.run_for(0.5)
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert app_socket.closed.wait(10)  # the stream ended with the call

    frames = app_socket.of_kind("AudioData")
    assert frames
    assert all("participantRawID" not in m["audioData"] for m in frames)
    prompt = np.frombuffer(speech.to_model_rate(tts.render(SENTENCE).pcm), "<i2").astype(float)
    assert best_correlation(pcm_of(frames), prompt) > 0.8


def test_a_sip_callees_sentence_is_transcribed(
    tenant, sdk_client, callbacks, sip_gateway, app_socket, tmp_path
):
    path = saying(tmp_path, SENTENCE, lead=2.0)
    options = TranscriptionOptions(
        transport_url=app_socket.url, transport_type="websocket", locale="en-US",
        start_transcription=True,
    )  # fmt: skip
    with sipp(tmp_path, "-sf", str(path), timeout="70s") as peer:
        create(tenant, sdk_client, callbacks, sip_gateway, peer, transcription=options)
        sip_gateway.run_until(lambda: final(app_socket), timeout=45)
        time.sleep(0.2)

    assert app_socket.received[0]["kind"] == "TranscriptionMetadata"
    *partial, data = app_socket.of_kind("TranscriptionData")
    # Said for ~1.7 s: an Intermediate result after its first second, before the Final one.
    assert [m["transcriptionData"]["resultStatus"] for m in partial] == ["Intermediate"]
    assert data["transcriptionData"]["resultStatus"] == "Final"
    # What the leg heard: the sentence through G.711, cut by the same voice detector.
    pcm = np.frombuffer(tts.render(SENTENCE).pcm, dtype="<i2").astype(np.int16)
    heard = g711.decode(g711.encode(pcm, g711.PCMU), g711.PCMU)
    segmenter, utterances = recognition.Segmenter(), []
    for start in range(0, len(heard) + 8000, 160):
        frame = heard[start : start + 160]
        if segmenter.feed(frame if len(frame) == 160 else None) == "end":
            utterances.append(segmenter.take())
    expected = speech.shared().submit(utterances[0]).result(60).text
    # RTP on a busy machine can arrive late or be cut a frame early, which may change a word
    # at the edge: the call's transcript must match the direct decode within one word in four.
    assert expected
    assert speech.word_error_rate([expected], [data["transcriptionData"]["text"]]) <= 0.25
    assert data["transcriptionData"]["participantRawID"] == f"4:{CALLEE}"
    assert data["transcriptionData"]["offset"] > 1.0 * 10_000_000  # said 2 s in
