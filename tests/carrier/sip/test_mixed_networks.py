"""One call across networks (CarrierRouter + carrier.bridge): SIP legs on a SipCarrier
talking to real SIPp peers, and a simulated callee on the simulated carrier, each hear
the sum of the others; so do legs on two SIP trunks (two SipCarriers of one process: one
shared clock and mixer, no link between them)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from carrier.interface import (
    CalleeScript,
    Dial,
    KeyPress,
    LegOutcome,
    MonotonicClock,
    Play,
    Record,
)
from carrier.media import tts
from carrier.routing import CarrierRouter
from carrier.simulated.driver import SimulatedCarrier
from carrier.sip.runtime import SipRuntime
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, Events, carrier, scenario, sipp
from tests.carrier.sip.test_sipp_calls import NO_TE, channel, keys_in, windowed_correlation

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SIPP is None, reason=SKIP_REASON)]


def answered(leg: str):
    return lambda e: e.leg_id == leg and e.kind == LegOutcome.ANSWERED


def dial(router: CarrierRouter, leg: str, to: str, route: str = "", **extra) -> None:
    router.dial(Dial(leg_id=leg, to=to, caller_id="", timeout=5, call="conf", route=route, **extra))


def best_match(expected: np.ndarray, heard: np.ndarray, window: int = 4000) -> float:
    """How well `heard` repeats `expected`, half a second at a time (1.0: the same): each
    window with sound in it is looked for at every frame of `heard` (a stalled clock
    skips ticks, which puts silence on the recording but not in what was heard)."""
    scores = []
    for begin in range(0, len(expected) - window + 1, window):
        said = expected[begin : begin + window]
        if np.sqrt(np.mean(said**2)) < 300:
            continue
        matches = (
            np.corrcoef(said, heard[start : start + window])[0, 1]
            for start in range(0, len(heard) - window + 1, 160)
        )
        scores.append(max(float(np.nan_to_num(m)) for m in matches))
    return float(np.median(scores)) if scores else 0.0


def run_for(events: Events, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        events.seen += events.driver.poll()
        time.sleep(0.01)


def test_a_sip_leg_a_sip_echo_and_a_simulated_callee_hear_each_other(tmp_path):
    """A (SIPp talking PCMA) + B (SIPp echo) on a trunk + C (simulated, presses 5): C hears
    A (correlation), B hears C's key (its echo carries the tone), and the call's recording,
    made on the SIP hub, has every participant's channel."""
    talk = scenario("uas_pcap.xml", tmp_path)
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    simulated = SimulatedCarrier(MonotonicClock())
    router = CarrierRouter(simulated)
    script = CalleeScript(answer_after=0, keys=(KeyPress(at=1.5, key="5"),))
    with (
        sipp(tmp_path, "-sf", str(talk), name="a") as peer_a,
        sipp(tmp_path, "-sf", str(echo), echo=True, name="b") as peer_b,
        carrier(peer_a.port) as trunk,
    ):
        router.add("trunk-1", trunk)
        events = Events(router)  # type: ignore[arg-type]
        dial(router, "A", "4:+15551230000", route="trunk-1")
        events.until(answered("A"))
        dial(router, "C", "4:+15557770000", script=script)
        events.until(answered("C"))
        dial(router, "B", f"sip:echo@127.0.0.1:{peer_b.port}", route="trunk-1")
        events.until(answered("B"))
        assert router.bridges.hub("conf") is trunk
        legs = (("A", "4:a"), ("B", "4:b"), ("C", "4:+15557770000"))
        router.start_recording(Record("r", call="conf", legs=legs, channel_type="unmixed"))
        run_for(events, 2.5)
        router.stop_recording("r")
        ready = events.until("recording_ready")
        party = router.bridges.party("C") or pytest.fail("C is not in the hub's mix")
        for leg in "ABC":
            router.hang_up(leg)
        assert peer_a.wait() == 0, peer_a.output()
        assert peer_b.wait() == 0, peer_b.output()
        assert "C" not in trunk.engine.legs  # the party left the hub's mix with its leg

    # What C heard is, tick for tick, what A and B said (mix-minus): find that stretch.
    expected = channel(ready, "4:a").astype(float) + channel(ready, "4:b").astype(float)
    assert np.sqrt(np.mean(expected**2)) > 300
    heard = [f if f is not None else np.zeros(160) for f in party.heard]
    c_heard = np.concatenate(heard).astype(float)
    assert best_match(expected, c_heard) > 0.9
    # C's key went into the mix as a DTMF tone: on its own channel, and back in B's echo.
    assert "5" in keys_in(channel(ready, "4:+15557770000"))
    assert "5" in keys_in(channel(ready, "4:b"))


@pytest.mark.parametrize("separate", [False, True], ids=["one-runtime", "two-runtimes"])
def test_two_trunks_in_one_call_mix_both_ways(tmp_path, separate):
    """A (SIPp talking) on trunk 1, B (SIPp echo) on trunk 2: two SIP carriers sharing the
    process's media engine, so A and B are in one mixer with no link; B's echo repeats A,
    and A's side hears it back; the recording has a channel for each of them. With an
    engine each (two runtimes), a link between the two mixers does the same."""
    talk = scenario("uas_pcap.xml", tmp_path)
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    router = CarrierRouter(SimulatedCarrier(MonotonicClock()))
    with (
        sipp(tmp_path, "-sf", str(talk), name="a") as peer_a,
        sipp(tmp_path, "-sf", str(echo), echo=True, name="b") as peer_b,
        carrier(peer_a.port) as one,
        carrier(peer_b.port, runtime=SipRuntime() if separate else None) as two,
    ):
        router.add("trunk-1", one)
        router.add("trunk-2", two)
        events = Events(router)  # type: ignore[arg-type]
        dial(router, "A", "4:+15551230000", route="trunk-1")
        events.until(answered("A"))
        dial(router, "B", f"sip:echo@127.0.0.1:{peer_b.port}", route="trunk-2")
        events.until(answered("B"))
        assert router.bridges.hub("conf") is one
        assert (one.engine is two.engine) is not separate
        # attach() is handed to the SIP loop: give it a moment to add the link's leg.
        deadline = time.monotonic() + 2.0
        while True:
            linked = [leg for leg in list(one.engine.legs) if leg.startswith("link:")]
            if linked or not separate or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert bool(linked) is separate
        legs = (("A", "4:a"), ("B", "4:b"))
        router.start_recording(Record("r2", call="conf", legs=legs, channel_type="unmixed"))
        # A prompt to the whole call is played by the hub, to both trunks' legs.
        router.play(Play("p", legs=("A", "B"), audios=(tts.render("Hello both."),)))
        run_for(events, 2.5)
        router.stop_recording("r2")
        ready = events.until("recording_ready")
        router.hang_up("A")
        router.hang_up("B")
        assert peer_a.wait() == 0, peer_a.output()
        assert peer_b.wait() == 0, peer_b.output()
        assert not [leg for leg in one.engine.legs if leg.startswith("link:")]
        assert not [leg for leg in two.engine.legs if leg.startswith("link:")]

    # B has its own channel (the one mixer knows every leg); with a link, the far trunk is
    # one party named after its first leg. What it says is A's echo.
    a = channel(ready, "4:a").astype(float)
    b = channel(ready, f"sip:echo@127.0.0.1:{peer_b.port}" if separate else "4:b").astype(float)
    assert np.median(windowed_correlation(a, b)) > 0.8
