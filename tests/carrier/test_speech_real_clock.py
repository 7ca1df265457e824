"""The simulated carrier on a real clock (as `run_gateway` runs it): a recognition is
decoded in the worker pool while the carrier goes on polling, and its result is picked up
by a later poll, never waited for on the clock."""

import time

import pytest

from carrier.interface import (
    CalleeScript,
    Choice,
    Collect,
    Dial,
    LegOutcome,
    MediaOutcome,
    MonotonicClock,
    Saying,
)
from carrier.media import speech, tts
from carrier.media.audio import silence
from carrier.simulated.driver import SimulatedCarrier


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


def test_a_choice_is_recognized_off_the_clock():
    speech.shared().submit(silence(0.1).pcm, ["cancel"]).result(timeout=60)  # the pool is up
    carrier = SimulatedCarrier(MonotonicClock())
    script = CalleeScript(
        answer_after=0.0,
        says=(Saying(0.2, "cancel", tts.render("cancel"), "prompt"),),
    )
    carrier.dial(Dial(leg_id="leg", to="4:+14255550123", caller_id="", timeout=10, script=script))
    events, longest_poll = [], 0.0
    deadline = time.monotonic() + 30
    while not any(e.kind == LegOutcome.ANSWERED for e in events):
        events += carrier.poll()
    choices = (Choice("cancel", ("cancel",)), Choice("confirm", ("confirm",)))
    carrier.collect(
        Collect(
            op_id="op",
            leg="leg",
            prompts=(silence(0.1),),
            speech="choices",
            choices=choices,
            end_silence=0.3,
        )
    )
    while not any(
        e.kind in (MediaOutcome.RECOGNIZED, MediaOutcome.RECOGNIZE_FAILED) for e in events
    ):
        assert time.monotonic() < deadline
        started = time.monotonic()
        events += carrier.poll()
        longest_poll = max(longest_poll, time.monotonic() - started)
        time.sleep(0.005)

    [done] = [e for e in events if e.kind == MediaOutcome.RECOGNIZED]
    assert (done.detail["recognition"], done.detail["label"]) == ("choices", "cancel")
    assert longest_poll < 0.2  # no poll waited for a decoding (generous: the machine is shared)
