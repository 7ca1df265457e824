"""Speech recognize on the SIP media engine, hand-stepped, with a party that says words
(espeak-ng audio fed as 20 ms frames, as a decoded RTP leg would be): choices, free speech,
barge-in, no barge-in, initial silence, no match, a choice's tone; all through the real
pocketsphinx pool, with the subcodes the simulated carrier gives."""

import time

import numpy as np
import pytest

from carrier.interface import Choice, Collect, MediaOutcome
from carrier.media import speech, tts
from carrier.media.audio import silence
from carrier.sip.clock import MediaClock
from carrier.sip.engine import MediaEngine
from carrier.sip.mixer import ExternalParty

CHOICES = (
    Choice("Confirm", ("confirm", "yes"), "1"),
    Choice("Cancel", ("cancel",), "2"),
)


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


def words(text: str) -> np.ndarray:
    return np.frombuffer(tts.render(text).pcm, dtype="<i2").astype(np.int16)


@pytest.fixture
def rig():
    clock = MediaClock()
    events = []
    engine = MediaEngine(clock, events.append)
    party = ExternalParty()
    engine.add_leg("a", party, call="c")

    def run(seconds: float) -> None:
        for _ in range(round(seconds / 0.02)):
            clock.ticks += 1
            engine.tick(clock.ticks)

    def run_until_event(limit: float = 30.0) -> None:
        # Ticks run faster than real time; the recognizer pool works in real time.
        deadline = time.monotonic() + limit
        while not events:
            assert time.monotonic() < deadline, "no outcome"
            run(0.02)
            time.sleep(0.002)

    speech.shared()  # the pool, warmed before the clocks start
    return engine, events, party, run, run_until_event


def test_a_said_choice_is_recognized_with_its_label(rig):
    engine, events, party, run, until = rig
    engine.collect(Collect(op_id="r", leg="a", prompts=(), speech="choices", choices=CHOICES,
                           initial_silence=2.0))  # fmt: skip
    run(0.3)
    party.feed(words("cancel"))
    until()
    [event] = events
    assert event.kind == MediaOutcome.RECOGNIZED, event.detail
    assert event.detail["label"] == "Cancel"
    assert event.detail["reason"] == "speech_matched"
    assert event.detail["recognition"] == "choices"
    assert engine.speech.latencies
    assert engine.speech.latencies[0] >= 0.2


def test_free_speech_gives_a_transcript_and_silence_fails(rig):
    engine, events, party, run, until = rig
    engine.collect(Collect(op_id="s", leg="a", prompts=(), speech="speech", end_silence=0.6))
    party.feed(words("yes"))
    until()
    assert events[-1].kind == MediaOutcome.RECOGNIZED, events[-1].detail
    assert events[-1].detail["recognition"] == "speech"
    assert events[-1].detail["text"]
    events.clear()
    engine.collect(Collect(op_id="t", leg="a", prompts=(), speech="speech", initial_silence=0.5))
    run(0.56)
    assert [(e.kind, e.detail["reason"]) for e in events] == [
        (MediaOutcome.RECOGNIZE_FAILED, "initial_silence")
    ]


def test_speech_barges_in_on_the_prompt_only_when_asked(rig):
    engine, events, party, run, until = rig
    prompt = silence(3.0)
    engine.collect(Collect(op_id="b", leg="a", prompts=(prompt,), interrupt_prompt=True,
                           speech="choices", choices=CHOICES))  # fmt: skip
    run(0.2)
    party.feed(words("confirm"))
    run(0.2)
    assert engine._collections["b"].phase == "listening"  # the prompt stopped at the word
    assert not engine.legs["a"].playing
    until()
    assert events[-1].detail["label"] == "Confirm"
    events.clear()
    # Without barge-in, what is said over the prompt is not heard: silence afterwards.
    engine.collect(Collect(op_id="n", leg="a", prompts=(silence(1.5),), speech="choices",
                           choices=CHOICES, initial_silence=0.5))  # fmt: skip
    run(0.1)
    party.feed(words("confirm"))
    run(1.4)
    assert engine._collections["n"].phase == "listening"
    assert not events
    run(0.6)
    assert [(e.kind, e.detail["reason"]) for e in events] == [
        (MediaOutcome.RECOGNIZE_FAILED, "initial_silence")
    ]


def test_a_sentence_is_no_match_and_a_tone_picks_its_choice(rig):
    engine, events, party, _run, until = rig
    engine.collect(Collect(op_id="m", leg="a", prompts=(), speech="choices", choices=CHOICES))
    party.feed(words("I would like to speak to somebody about my account please"))
    until()
    assert (events[-1].kind, events[-1].detail["reason"]) == (
        MediaOutcome.RECOGNIZE_FAILED, "no_match",
    )  # fmt: skip
    events.clear()
    engine.collect(Collect(op_id="k", leg="a", prompts=(), speech="choices", choices=CHOICES))
    engine.digit("a", "2", "rfc4733")
    assert events[-1].detail["label"] == "Cancel"
    assert events[-1].detail["reason"] == "tone_matched"
    engine.collect(Collect(op_id="o", leg="a", prompts=(), speech="speechOrDtmf", max_tones=1))
    engine.digit("a", "7", "rfc4733")
    assert events[-1].detail == {"op": "o", "tones": ["7"], "reason": "max_tones"}
