"""The media engine's semantics on a hand-stepped clock, with non-SIP parties: the same
play / recognize / barge-in / timer rules as the simulated carrier, mixing, recording."""

import numpy as np
import pytest

from carrier.interface import Collect, MediaOutcome, Play, Record
from carrier.media import dtmf
from carrier.media.audio import silence
from carrier.sip.clock import MediaClock
from carrier.sip.engine import MediaEngine
from carrier.sip.jitter import FRAME
from carrier.sip.mixer import ExternalParty


class Broken(ExternalParty):
    def pull(self):
        raise RuntimeError("a bad stream")


@pytest.fixture
def rig():
    clock = MediaClock()
    events = []
    engine = MediaEngine(clock, events.append)

    def run(seconds: float) -> None:
        for _ in range(round(seconds / 0.02)):
            clock.ticks += 1
            engine.tick(clock.ticks)

    return engine, events, run


def kinds(events):
    return [(e.kind, e.detail.get("reason")) for e in events]


def test_keys_over_a_prompt_count_only_with_barge_in(rig):
    engine, events, run = rig
    engine.add_leg("a", ExternalParty(), call="c")
    prompt = silence(0.2)
    engine.collect(Collect(op_id="x", leg="a", prompts=(prompt,), max_tones=2))
    run(0.1)
    engine.digit("a", "1", "rfc4733")  # over the prompt, no barge-in: ignored
    run(0.2)
    engine.digit("a", "2", "rfc4733")
    engine.digit("a", "3", "rfc4733")
    assert kinds(events) == [(MediaOutcome.RECOGNIZED, "max_tones")]
    assert events[-1].detail["tones"] == ["2", "3"]

    engine.collect(Collect(op_id="y", leg="a", prompts=(prompt,), interrupt_prompt=True,
                           stop_tones=frozenset("#")))  # fmt: skip
    run(0.06)
    engine.digit("a", "#", "inband")
    assert events[-1].detail == {"op": "y", "tones": [], "reason": "stop_tone"}


def test_initial_silence_and_inter_tone_timers_run_on_the_media_clock(rig):
    engine, events, run = rig
    engine.add_leg("a", ExternalParty(), call="c")
    engine.collect(Collect(op_id="s", leg="a", prompts=(silence(0.1),), initial_silence=0.5))
    run(0.58)
    assert events == []
    run(0.04)
    assert kinds(events) == [(MediaOutcome.RECOGNIZE_FAILED, "initial_silence")]
    engine.collect(Collect(op_id="t", leg="a", prompts=(), inter_tone=0.3, max_tones=5))
    engine.digit("a", "4", "rfc4733")
    run(0.28)
    engine.digit("a", "2", "rfc4733")
    run(0.28)
    assert len(events) == 1
    run(0.04)
    assert events[-1].detail == {"op": "t", "tones": ["4", "2"], "reason": "inter_tone_timeout"}


def test_play_to_two_parties_mixed_with_the_third_and_mute(rig):
    engine, events, run = rig
    a, b, c = ExternalParty(), ExternalParty(), ExternalParty()
    for key, party in (("a", a), ("b", b), ("c", c)):
        engine.add_leg(key, party, call="conf")
    tone = dtmf.tone("1", 0.1)
    engine.play(Play(op_id="p", legs=("a", "b"), audios=(tone,)))
    c.feed(np.full(FRAME * 10, 1000, dtype=np.int16))
    run(0.08)
    assert [e.kind for e in events] == [MediaOutcome.PLAY_STARTED]
    run(0.02)  # the tick that sends its last frame
    assert [e.kind for e in events] == [MediaOutcome.PLAY_STARTED, MediaOutcome.PLAY_FINISHED]
    prompt = np.frombuffer(tone.pcm, dtype="<i2")
    assert np.array_equal(
        np.concatenate(list(a.heard)[:5]), np.clip(prompt.astype(int) + 1000, -32768, 32767)
    )
    assert all(f is None for f in list(c.heard)[:5])  # a and b are silent; the prompt is not its
    engine.set_muted("c", True)
    c.feed(np.full(FRAME, 1000, dtype=np.int16))
    run(0.02)
    assert a.heard[-1] is None


def test_recording_taps_parties_and_app_and_skips_pauses(rig):
    engine, events, run = rig
    a = ExternalParty()
    engine.add_leg("a", a, call="c")
    engine.start_recording(Record(recording_id="r", call="c", legs=(("a", "4:+1"),),
                                  channel_type="unmixed"))  # fmt: skip
    a.feed(np.full(FRAME * 25, 500, dtype=np.int16))
    run(0.5)
    engine.pause_recording("r")
    run(0.5)
    engine.resume_recording("r")
    engine.play(Play(op_id="p", legs=("a",), audios=(dtmf.tone("9", 0.2),)))
    run(0.3)
    engine.stop_recording("r")
    ready = events[-1]
    assert ready.kind == "recording_ready"
    assert ready.detail["duration"] == pytest.approx(0.8)
    assert ready.detail["metadata"]["participants"] == ["4:+1", "app"]


def test_a_failing_party_is_dropped_and_the_others_go_on(rig):
    engine, events, run = rig
    good = ExternalParty()
    engine.add_leg("bad", Broken(), call="c")
    engine.add_leg("good", good, call="c")
    engine.play(Play(op_id="p", legs=("good",), audios=(silence(0.1),)))
    run(0.2)
    assert "bad" not in engine.legs
    assert events[-1].kind == MediaOutcome.PLAY_FINISHED
    assert len(good.heard) == 10
