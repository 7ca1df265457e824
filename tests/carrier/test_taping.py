"""The simulated carrier's recordings, on the carrier alone (no database)."""

import io
import wave
from array import array

import pytest

from carrier.interface import Dial, Play, Record, RecordingOutcome, VirtualClock
from carrier.media import dtmf
from carrier.media.audio import Audio
from carrier.simulated.driver import SimulatedCarrier
from tests.deadline import deadline


def run(carrier: SimulatedCarrier, clock: VirtualClock, until: float) -> list:
    events = []
    while (upcoming := carrier.next_event_at()) is not None and upcoming <= until:
        clock.advance_to(upcoming)
        events += carrier.poll()
    clock.advance_to(until)
    return events + carrier.poll()


def answered_call(*numbers: str) -> tuple[SimulatedCarrier, VirtualClock]:
    clock = VirtualClock()
    carrier = SimulatedCarrier(clock)
    for index, number in enumerate(numbers):
        carrier.dial(Dial(f"leg-{index}", f"4:{number}", "+14255550100", 30, call="call-1"))
    run(carrier, clock, 2)  # answered after 1 s
    return carrier, clock


def test_hanging_up_the_last_leg_stops_the_recording_with_its_file():
    carrier, clock = answered_call("+14255550123")
    carrier.start_recording(Record("rec-1", "call-1", (("leg-0", "4:+14255550123"),)))
    run(carrier, clock, 3)
    carrier.press("leg-0", "5")
    run(carrier, clock, 4)

    carrier.hang_up("leg-0")
    [ready] = [e for e in run(carrier, clock, 4.1) if e.kind == RecordingOutcome.READY]

    assert ready.detail["end_reason"] == "callEnded"
    assert ready.detail["duration"] == 2.0
    assert ready.detail["metadata"]["participants"] == ["4:+14255550123"]


def test_a_pressed_key_is_a_real_tone_on_the_presser_s_track():
    carrier, clock = answered_call("+14255550123", "+14255550124")
    legs = (("leg-0", "4:+14255550123"), ("leg-1", "4:+14255550124"))
    carrier.start_recording(Record("rec-1", "call-1", legs, channel_type="unmixed"))
    run(carrier, clock, 3)
    carrier.press("leg-1", "9")
    run(carrier, clock, 4)

    carrier.stop_recording("rec-1")
    [ready] = [e for e in carrier.poll() if e.kind == RecordingOutcome.READY]

    assert [c["participant"] for c in ready.detail["metadata"]["channelMap"]] == ["4:+14255550124"]

    with wave.open(io.BytesIO(ready.detail["data"])) as audio:
        heard = Audio(audio.readframes(audio.getnframes()))
    assert [(round(at, 2), key) for at, key in dtmf.detect(heard)] == [(1.0, "9")]


def test_an_ended_call_is_forgotten():
    carrier, _clock = answered_call("+14255550123", "+14255550124")
    carrier.start_recording(Record("rec-1", "call-1", (("leg-0", "4:+14255550123"),)))

    carrier.hang_up("leg-0")
    carrier.hang_up("leg-1")

    taping = carrier.taping
    assert (taping._call_of, taping._who, taping._answered, taping._recordings) == (
        {},
        {},
        set(),
        {},
    )


def ramp(length: int) -> Audio:
    """Audio whose every sample says where in it it is, so a misplaced piece shows."""
    return Audio(array("h", (i % 20000 - 10000 for i in range(length))).tobytes())


def channels(data: bytes) -> list[array]:
    with wave.open(io.BytesIO(data)) as reader:
        count, frames = reader.getnchannels(), array("h", reader.readframes(reader.getnframes()))
    return [frames[index::count] for index in range(count)]


@pytest.mark.parametrize("stop", ["stop_media", "hang_up", "stop_recording"])
def test_a_looped_play_stopped_mid_loop_is_taped_to_the_sample(stop):
    carrier, clock = answered_call("+14255550123")
    carrier.start_recording(
        Record("rec-1", "call-1", (("leg-0", "4:+14255550123"),), channel_type="unmixed",
               channel_order=("app",))
    )  # fmt: skip
    prompt = ramp(5600)  # 0.7 s
    carrier.play(Play("op-1", ("leg-0",), (prompt,), loop=True))
    run(carrier, clock, 4.5)  # 2.5 s: 3 loops and 4400 samples (float steps stalled here)

    with deadline(5):
        if stop == "stop_media":
            carrier.stop_media("op-1")
            carrier.stop_recording("rec-1")
        elif stop == "hang_up":
            carrier.hang_up("leg-0")  # the call's last leg: the recording stops with it
        else:
            carrier.stop_recording("rec-1")
        [ready] = [e for e in carrier.poll() if e.kind == RecordingOutcome.READY]

    app = channels(ready.detail["data"])[0]
    assert app.tobytes() == prompt.looped(0, 20000).pcm
