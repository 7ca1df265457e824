"""The simulated carrier's recordings, on the carrier alone (no database)."""

import io
import wave

from carrier.interface import Dial, Record, RecordingOutcome, VirtualClock
from carrier.media import dtmf
from carrier.media.audio import Audio
from carrier.simulated.driver import SimulatedCarrier


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
