"""Time-bounded media: whatever a prompt's length, however many times a loop went round
and whenever it is stopped, taping and recording terminate, and the recording holds
exactly the recorded samples, with the prompt exactly where it was heard.

A property test over the simulated carrier alone (no database): hypothesis picks the
numbers, the carrier runs on a virtual clock set to whole samples.
"""

from array import array

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from carrier.interface import Dial, Play, Record, RecordingOutcome, VirtualClock
from carrier.media.audio import RATE, Audio
from carrier.simulated.driver import SimulatedCarrier
from tests.carrier.test_taping import channels, ramp
from tests.deadline import deadline

CALLEE = "4:+14255550123"
ANSWERED = 2 * RATE  # the callee answers after 1 s; everything below happens from 2 s on


class Call:
    """One answered call on the simulated carrier, driven sample by sample."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.carrier = SimulatedCarrier(self.clock)
        self.carrier.dial(Dial("leg-0", CALLEE, "+14255550100", 30, call="call-1"))
        self.events: list = []
        self.run_to(ANSWERED)

    def run_to(self, sample: int) -> None:
        until = sample / RATE
        while (upcoming := self.carrier.next_event_at()) is not None and upcoming <= until:
            self.clock.advance_to(upcoming)
            self.events += self.carrier.poll()
        self.clock.advance_to(until)
        self.events += self.carrier.poll()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    length=st.integers(min_value=1, max_value=3 * RATE),
    loop=st.booleans(),
    play_after=st.integers(min_value=0, max_value=2 * RATE),
    record_after=st.integers(min_value=0, max_value=2 * RATE),
    loops=st.integers(min_value=0, max_value=20),
    into_loop=st.floats(min_value=0, max_value=1, exclude_max=True),
    stop=st.sampled_from(["stop_media", "hang_up", "stop_recording"]),
    tail=st.integers(min_value=0, max_value=RATE),
)
def test_any_play_stopped_at_any_moment_records_exactly_what_was_heard(
    length, loop, play_after, record_after, loops, into_loop, stop, tail
):
    play_at = ANSWERED + play_after
    record_at = ANSWERED + record_after
    stop_at = play_at + loops * length + int(into_loop * length)
    assume(record_at <= stop_at)  # a recording cannot start after the call ended
    prompt = ramp(length)
    call = Call()
    carrier = call.carrier

    with deadline(10):
        for at, action in sorted(
            [
                (play_at, lambda: carrier.play(Play("op-1", ("leg-0",), (prompt,), loop=loop))),
                (record_at, lambda: carrier.start_recording(
                    Record("rec-1", "call-1", (("leg-0", CALLEE),), channel_type="unmixed",
                           channel_order=("app",)))),
            ],
            key=lambda item: item[0],
        ):  # fmt: skip
            call.run_to(at)
            action()
        call.run_to(stop_at)
        end_at = stop_at
        if stop == "stop_media":
            carrier.stop_media("op-1")
            end_at = stop_at + tail
            call.run_to(end_at)
            carrier.stop_recording("rec-1")
        elif stop == "hang_up":
            carrier.hang_up("leg-0")
        else:
            carrier.stop_recording("rec-1")
        call.run_to(end_at)

    [ready] = [e for e in call.events if e.kind == RecordingOutcome.READY]
    app = channels(ready.detail["data"])[0]
    assert len(app) == end_at - record_at
    assert round(ready.detail["metadata"]["recordedSeconds"] * RATE) == end_at - record_at
    # What the app track should hold: the prompt (round and round if looped) from its
    # start until it ended or was stopped, silence elsewhere.
    if loop:
        heard_until = stop_at if stop != "stop_recording" else end_at
    else:
        heard_until = min(play_at + length, stop_at if stop != "stop_recording" else end_at)
    assert app == expected_track(prompt, play_at, heard_until, record_at, end_at)


def expected_track(prompt: Audio, start: int, end: int, first: int, last: int) -> array:
    """Samples `first` to `last` of a track that plays `prompt` over and over from
    sample `start` to `end` and is silent elsewhere."""
    source = array("h", prompt.pcm)
    heard_from, heard_to = max(first, start), min(last, end)
    out = array("h", bytes(2 * (last - first)))
    if heard_from < heard_to:
        offset = (heard_from - start) % len(source)
        count = heard_to - heard_from
        repeated = source * (-(-(offset + count) // len(source)))
        out[heard_from - first : heard_to - first] = repeated[offset : offset + count]
    return out
