"""Quick load check of the SIP carrier: N concurrent calls, one Python process.

`python -m bench.sip_streams --calls 100` dials N calls at `--rate` calls/s to one SIPp
(`uas_echo` with -rtp_echo) and plays a looping prompt on each; once all are up it
measures for `--seconds`: setup time (INVITE -> 200 from the SIP trace), inter-arrival
deviation |Δt - 20 ms| of the echoed RTP (our sending plus SIPp's echo plus our receive,
so pessimistic), media clock lateness, CPU of this process and RSS. Not a timed test and
not `make bench-sip` (phase 2 drives calls through the gateway); a figure to watch.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import tempfile
import time
from pathlib import Path

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callauto.settings")
    django.setup()

    import numpy as np

    from carrier.interface import Dial, LegOutcome, Play
    from carrier.media import tts
    from carrier.sip.stream import RtpStream
    from tests.carrier.sip.sipp import Events, carrier, scenario, sipp

    arrivals: dict[int, list[float]] = {}
    original = RtpStream._rtp_received

    def timed(self: RtpStream, data: bytes, addr: tuple[str, int], arrival: float) -> None:
        # The kernel's arrival time (the tick reads the socket later): what the wire saw.
        arrivals.setdefault(id(self), []).append(arrival)
        original(self, data, addr, arrival)

    RtpStream._rtp_received = timed  # type: ignore[method-assign]
    prompt = tts.render("This is a load test of the SIP carrier. " * 3)
    tmp = Path(tempfile.mkdtemp(prefix="sip-bench-"))
    path = scenario("uas_echo.xml", tmp, TE="", TEMAP="")
    with (
        sipp(tmp, "-sf", str(path), calls=args.calls, echo=True, timeout="300s") as peer,
        carrier(peer.port, rtp_port_min=20000, rtp_port_max=29999) as driver,
    ):
        events = Events(driver)
        for index in range(args.calls):
            leg = f"L{index}"
            driver.dial(Dial(leg_id=leg, to="4:+15551230000", caller_id="", timeout=10, call=leg))
            time.sleep(1 / args.rate)
        for index in range(args.calls):
            events.until(lambda e, i=index: e.leg_id == f"L{i}" and e.kind in
                         (LegOutcome.ANSWERED, *LegOutcome.ENDS), timeout=30)  # fmt: skip
        answered = sum(1 for e in events.seen if e.kind == LegOutcome.ANSWERED)
        for index in range(args.calls):
            driver.play(Play(op_id=f"p{index}", legs=(f"L{index}",), audios=(prompt,), loop=True))
        setups = []
        for index in range(args.calls):
            trace = driver.trace(f"L{index}")
            sent = next(e["at"] for e in trace if e["first_line"].startswith("INVITE"))
            ok = next(e["at"] for e in trace if e["first_line"].startswith("SIP/2.0 200"))
            setups.append((ok - sent) * 1000)
        time.sleep(1.0)
        arrivals.clear()
        driver.clock.lateness.clear()
        driver.clock.work.clear()
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(args.seconds)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        deviations = [
            abs(b - a - 0.020) * 1000
            for times in list(arrivals.values())
            for a, b in itertools.pairwise(times)
        ]
        late = [x * 1000 for x in driver.clock.lateness]
        work = [x * 1000 for x in driver.clock.work]
        retransmissions = driver.status()["retransmissions"]
        for index in range(args.calls):
            driver.hang_up(f"L{index}")
        time.sleep(1.0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    print(f"calls {args.calls} at {args.rate}/s: answered {answered}, SIP retransmissions "
          f"{retransmissions}")  # fmt: skip
    print(f"setup INVITE->200 ms: p50 {pct(setups, 50):.2f} p99 {pct(setups, 99):.2f}")
    print(f"echoed RTP inter-arrival deviation ms: p50 {pct(deviations, 50):.2f} "
          f"p99 {pct(deviations, 99):.2f} max {max(deviations, default=0):.2f} "
          f"({len(deviations)} packets)")  # fmt: skip
    print(f"media clock lateness ms: p50 {pct(late, 50):.2f} p99 {pct(late, 99):.2f} "
          f"skipped ticks {driver.clock.skipped}")  # fmt: skip
    print(f"tick work ms: p50 {pct(work, 50):.2f} p99 {pct(work, 99):.2f} max {max(work):.2f}")
    print(f"CPU {100 * cpu / wall:.1f} % of one core; max RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
