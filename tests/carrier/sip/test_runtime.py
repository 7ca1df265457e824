"""One SIP runtime per process (issue 14 item 3): every trunk's SipCarrier shares one
loop thread and one 20 ms media clock; each keeps its own SIP socket. The runtime starts
with the first trunk and stops with the last; closing one trunk leaves the others'
calls ticking."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from carrier.interface import LegOutcome, MediaOutcome, Play, Record, RecordingOutcome
from carrier.media import tts
from carrier.sip import runtime as sip_runtime
from carrier.sip.driver import SipCarrier
from carrier.sip.mixer import ExternalParty
from carrier.sip.runtime import THREAD_NAME, SipRuntime
from carrier.sip.transaction import Timers
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, Events, config, scenario, sipp
from tests.carrier.sip.test_sipp_calls import NO_TE, dial

FAST = Timers(t1=0.1, t2=0.8, t4=1.0)


def loop_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == THREAD_NAME)


def clock_tasks(runtime: SipRuntime) -> int:
    async def count() -> int:
        return sum(
            1
            for task in asyncio.all_tasks()
            if getattr(task.get_coro(), "__qualname__", "") == "MediaClock._run"
        )

    return runtime.run(count())


def wait_ticks(clock, more: int = 5, timeout: float = 5.0) -> None:
    target = clock.ticks + more
    deadline = time.monotonic() + timeout
    while clock.ticks < target:
        assert time.monotonic() < deadline, f"the clock stopped at {clock.ticks}"
        time.sleep(0.02)


def trunk(runtime: SipRuntime | None, port: int = 5999) -> SipCarrier:
    driver = SipCarrier(config(port), timers=FAST, runtime=runtime)
    driver.start()
    return driver


def test_two_trunks_share_one_loop_thread_and_one_ticking_clock():
    runtime = SipRuntime()
    before = loop_threads()
    one = trunk(runtime)
    two = trunk(runtime)
    try:
        assert one.sip_port != two.sip_port  # each trunk its own SIP socket
        assert loop_threads() == before + 1
        assert one._thread is two._thread is runtime.thread
        assert one.clock is two.clock is runtime.clock
        assert clock_tasks(runtime) == 1
        wait_ticks(runtime.clock)
        assert one.status()["clock_trunks"] == two.status()["clock_trunks"] == 2
        assert one.status()["clock_late_p99_ms"] is not None
    finally:
        one.close(grace=0)
        two.close(grace=0)
    # The last trunk out stopped the thread and the clock.
    assert not runtime.running
    assert loop_threads() == before


def test_carriers_built_without_a_runtime_share_the_process_one():
    one = trunk(None)
    two = trunk(None)
    try:
        assert one.runtime is two.runtime is sip_runtime.shared()
        assert one._thread is two._thread
    finally:
        one.close(grace=0)
        two.close(grace=0)


def test_the_runtime_starts_again_after_the_last_trunk_closed():
    runtime = SipRuntime()
    first = trunk(runtime)
    first.close(grace=0)
    assert not runtime.running
    second = trunk(runtime)
    try:
        assert runtime.running
        assert clock_tasks(runtime) == 1
        wait_ticks(runtime.clock)
    finally:
        second.close(grace=0)


@pytest.mark.slow
@pytest.mark.skipif(SIPP is None, reason=SKIP_REASON)
def test_closing_one_trunk_keeps_the_other_trunks_call_ticking(tmp_path):
    """A call on trunk two (SIPp echo); trunk one closes mid-call: trunk two's RTP keeps
    flowing both ways and a prompt played afterwards completes on the shared clock."""
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    runtime = SipRuntime()
    with sipp(tmp_path, "-sf", str(echo), echo=True) as peer:
        one = trunk(runtime, peer.port)
        two = trunk(runtime, peer.port)
        try:
            events = Events(two)
            dial(two, "B")
            events.until(lambda e: e.leg_id == "B" and e.kind == LegOutcome.ANSWERED)
            quality = two._legs["B"].stream.quality
            one.close(grace=0)
            assert runtime.running
            sent, received = quality.packets_sent, quality.packets_received
            two.play(Play("p", legs=("B",), audios=(tts.render("Still here."),)))
            events.until(MediaOutcome.PLAY_FINISHED)
            assert quality.packets_sent - sent >= 25  # at least half a second more
            assert quality.packets_received - received >= 25  # the echo of it
            two.hang_up("B")
            assert peer.wait() == 0, peer.output()
        finally:
            one.close(grace=0)
            two.close(grace=0)
    assert not runtime.running


def poll_until(driver: SipCarrier, kind: str, timeout: float = 5.0) -> list:
    seen: list = []
    deadline = time.monotonic() + timeout
    while not any(event.kind == kind for event in seen):
        assert time.monotonic() < deadline, f"no {kind} on this trunk; seen {seen}"
        seen += driver.poll()
        time.sleep(0.02)
    return seen


def test_two_trunks_mix_in_one_engine_and_each_gets_its_own_events():
    """A party on trunk one and a party on trunk two of one call hear each other directly
    (one mixer, no link); a play issued on trunk one reports there, a recording started
    on trunk two reports there, never on the other trunk."""
    runtime = SipRuntime()
    one, two = trunk(runtime), trunk(runtime)
    x, y = ExternalParty(), ExternalParty()
    try:
        assert one.engine is two.engine
        one.attach("X", x, call="c", who="4:x")
        two.attach("Y", y, call="c", who="4:y")
        two.start_recording(Record("r", call="c", legs=(("X", "4:x"), ("Y", "4:y"))))
        tone = (8000 * np.sin(np.arange(1600) * 2 * np.pi * 440 / 8000)).astype(np.int16)
        x.feed(tone)
        one.play(Play("p", legs=("X",), audios=(tts.render("Hi."),)))
        kinds = [event.kind for event in poll_until(one, MediaOutcome.PLAY_FINISHED)]
        assert kinds[:1] == [MediaOutcome.PLAY_STARTED]
        heard = [frame for frame in y.heard if frame is not None]
        assert len(heard) >= 10  # X's 200 ms tone reached Y (plus nothing of the play)
        assert np.abs(np.concatenate(heard[:10])).max() > 4000
        two.stop_recording("r")
        poll_until(two, RecordingOutcome.READY)
        assert not [e for e in one.poll() if e.kind == RecordingOutcome.READY]
        assert not [e for e in two.poll() if e.kind.startswith("play")]
        assert not [leg for leg in one.engine.legs if leg.startswith("link:")]
    finally:
        one.close(grace=0)
        two.close(grace=0)
    assert "X" not in runtime.engine.legs  # a closed trunk takes its parties out
    assert "Y" not in runtime.engine.legs
