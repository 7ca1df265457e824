"""A mixed media stream is one signal (ACS audioChannelType "mixed"): on the simulated
carrier, two callees talking at once reach the app's WebSocket as their sum, once, with no
participant; unmixed, each comes on its own with its rawId. A real WebSocket server in the
test; the carrier on a virtual clock."""

import time

import numpy as np
import pytest

from carrier.interface import CalleeScript, Dial, Saying, Stream, StreamOutcome, VirtualClock
from carrier.media import speech, tts
from carrier.media.audio import Audio
from carrier.simulated.driver import SimulatedCarrier
from carrier.simulated.taping import HELLO_SECONDS
from tests.calls.test_media_streaming import AppSocket, pcm_of


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def app_socket():
    socket = AppSocket()
    yield socket
    socket.close()


def run(channel: str, app_socket: AppSocket) -> tuple[list[dict], Audio, Audio]:
    clock = VirtualClock()
    carrier = SimulatedCarrier(clock)
    yes, cancel = tts.render("yes"), tts.render("cancel")
    for leg, who, audio in (("a", "+14255550001", yes), ("b", "+14255550002", cancel)):
        script = CalleeScript(answer_after=1.0, says=(Saying(2.0, "", audio),))
        carrier.dial(Dial(leg_id=leg, to=f"4:{who}", caller_id="", timeout=30, script=script,
                          call="call-1"))  # fmt: skip
    legs = (("a", "4:+14255550001"), ("b", "4:+14255550002"))
    stream = Stream(stream_id="s", call="call-1", url=app_socket.url, address="127.0.0.1",
                    legs=legs, channel=channel)  # fmt: skip
    carrier.start_stream(stream)
    events = []
    deadline = time.monotonic() + 20
    while not any(e.kind == StreamOutcome.STARTED for e in events):
        assert time.monotonic() < deadline
        events += carrier.poll()
        time.sleep(0.01)
    for _ in range(250):  # 5 s, a tick at a time
        clock.advance_to(clock.now() + 0.02)
        carrier.poll()
    carrier.stop_stream("s")
    assert app_socket.closed.wait(10)
    return app_socket.of_kind("AudioData"), yes, cancel


def at_16k(*audios) -> np.ndarray:
    total = np.zeros(max(a.samples for a in audios), dtype=np.int32)
    for audio in audios:
        total[: audio.samples] += np.frombuffer(audio.pcm, dtype="<i2")
    return np.frombuffer(speech.to_model_rate(total.astype("<i2").tobytes()), "<i2").astype(float)


def best_correlation(streamed: np.ndarray, reference: np.ndarray) -> float:
    energy = np.convolve(streamed**2, np.ones(len(reference)), "valid")
    scores = np.correlate(streamed, reference, mode="valid")
    return float((scores / (np.linalg.norm(reference) * np.sqrt(energy) + 1e-9)).max())


def test_mixed_is_the_sum_of_the_talkers_sent_once(app_socket):
    frames, yes, cancel = run("mixed", app_socket)

    assert all("participantRawID" not in m["audioData"] for m in frames)
    streamed = pcm_of(frames)
    # Both hellos (together, 0.2 s after the answer), then both phrases (together): the
    # signal lasts as long as the longer of each pair, not their total.
    expected = HELLO_SECONDS + max(yes.samples, cancel.samples) / 8000
    assert abs(len(streamed) / 16000 - expected) < 0.03
    assert best_correlation(streamed, at_16k(yes, cancel)) > 0.95
    assert best_correlation(streamed, at_16k(yes)) < 0.9  # not just one of them


def test_unmixed_sends_each_talker_with_its_raw_id(app_socket):
    frames, yes, cancel = run("unmixed", app_socket)

    raw = {m["audioData"]["participantRawID"] for m in frames}
    assert raw == {"4:+14255550001", "4:+14255550002"}
    mine = [m for m in frames if m["audioData"]["participantRawID"] == "4:+14255550002"]
    assert best_correlation(pcm_of(mine), at_16k(cancel)) > 0.95
    expected = 2 * HELLO_SECONDS + (yes.samples + cancel.samples) / 8000
    assert abs(len(pcm_of(frames)) / 16000 - expected) < 0.06
