"""`make bench-sip`: the SIP carrier under load, against SIPp, with the issue's targets.

For each concurrency N of `--levels` (default 50,100,200): SIPp (`uas_echo`, -rtp_echo)
answers N calls that one SipCarrier (what `run_gateway --driver sip` runs per trunk)
places at `--rate` calls/s. Every call plays a looping spoken prompt, is recorded (mixed
WAV), and sends RFC 4733 digits once all are up; then `--seconds` are measured. Reported:
failed calls, SIP retransmissions, setup INVITE -> 200 (p50/p99, from the SIP trace),
RTP inter-departure deviation |dt - 20 ms| of what we send as the receiver times it
(SIPp's echo times nothing, so our receive side of the echo: pessimistic, it includes
SIPp's turn-around), RFC 3550 jitter and loss of the received streams, media clock
lateness and the clock's work per tick (what the process itself costs, whatever the
load), CPU of this process (one core = 100 %), max RSS and the load average. Then the
highest N at which every target held; `--search` then bisects between the highest level
that held and the lowest that did not (to within `--step` calls), so the figure is a
measured concurrency, not just one of the levels. Targets (issue 14, a 2-core machine
shared with SIPp): 0 failed, 0 retransmissions, setup p99 < 50 ms, deviation p99 < 5 ms,
loss 0 %.

Not a timed test; figures depend on the machine's load (other processes share the cores).
The database is not involved: this measures the SIP and media path the gateway runs.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import django

TARGETS = {"failed": 0, "retransmissions": 0, "setup_p99_ms": 50.0, "deviation_p99_ms": 5.0}


def run_level(
    calls: int, rate: float, seconds: float, tmp: Path, rtp: tuple[int, int], realtime: int = 0
) -> dict[str, float]:
    import numpy as np

    from carrier.interface import Dial, LegOutcome, Play, Record, SendTones
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
    te = {"TE": " 101", "TEMAP": "a=rtpmap:101 telephone-event/8000"}
    path = scenario("uas_echo.xml", tmp, **te)
    try:
        with (
            sipp(tmp, "-sf", str(path), calls=calls, echo=True, timeout="600s") as peer,
            carrier(
                peer.port,
                rtp_port_min=rtp[0],
                rtp_port_max=rtp[1],
                max_calls=10000,
                realtime_priority=realtime,
            ) as sip,  # fmt: skip
        ):
            events = Events(sip)
            legs = [f"L{index}" for index in range(calls)]
            for leg in legs:
                sip.dial(Dial(leg_id=leg, to="4:+15551230000", caller_id="", timeout=20, call=leg))
                time.sleep(1 / rate)
            for leg in legs:
                events.until(lambda e, leg=leg: e.leg_id == leg and e.kind in
                             (LegOutcome.ANSWERED, *LegOutcome.ENDS), timeout=60)  # fmt: skip
            answered = {e.leg_id for e in events.seen if e.kind == LegOutcome.ANSWERED}
            setups = []
            for leg in sorted(answered):
                trace = sip.trace(leg)
                sent = next(e["at"] for e in trace if e["first_line"].startswith("INVITE"))
                ok = next(e["at"] for e in trace if e["first_line"].startswith("SIP/2.0 200"))
                setups.append((ok - sent) * 1000)
                sip.start_recording(Record(recording_id=f"r-{leg}", call=leg, legs=((leg, leg),)))
                sip.play(Play(op_id=f"p-{leg}", legs=(leg,), audios=(prompt,), loop=True))
            time.sleep(1.0)
            arrivals.clear()
            sip.clock.lateness.clear()
            sip.clock.work.clear()
            sip.clock.cpu.clear()
            cpu, wall = time.process_time(), time.monotonic()
            loop_cpu = sip._run(_thread_cpu())
            for leg in sorted(answered):
                sip.send_tones(SendTones(op_id=f"t-{leg}", leg=leg, keys=("1", "2", "#")))
            time.sleep(seconds)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            loop_cpu = sip._run(_thread_cpu()) - loop_cpu
            deviations = [
                abs(b - a - 0.020) * 1000
                for times in list(arrivals.values())
                for a, b in itertools.pairwise(times)
            ]
            late = [x * 1000 for x in sip._run(_snapshot(sip.clock.lateness))]
            work = [x * 1000 for x in sip._run(_snapshot(sip.clock.work))]
            tick_cpu = [x * 1000 for x in sip._run(_snapshot(sip.clock.cpu))]
            quality = [leg.stream.quality.figures() for leg in list(sip._legs.values())]
            retransmissions = sip.status()["retransmissions"]
            for leg in sorted(answered):
                sip.stop_recording(f"r-{leg}")
            deadline = time.monotonic() + 10  # the files render on the SIP loop
            recorded = 0
            while recorded < len(answered) and time.monotonic() < deadline:
                time.sleep(0.1)
                recorded = sum(1 for kind in events.kinds() if kind == "recording_ready")
            for leg in legs:
                sip.hang_up(leg)
            time.sleep(1.0)
        sipp_rc = peer.process.returncode
    finally:
        RtpStream._rtp_received = original  # type: ignore[method-assign]

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    expected = sum(q["packets_expected"] or 0 for q in quality)
    lost = sum(max(q["packets_lost"] or 0, 0) for q in quality)
    return {
        "calls": calls,
        "failed": calls - len(answered),
        "retransmissions": retransmissions,
        "setup_p50_ms": pct(setups, 50),
        "setup_p99_ms": pct(setups, 99),
        "deviation_p50_ms": pct(deviations, 50),
        "deviation_p99_ms": pct(deviations, 99),
        "jitter_p99_ms": pct([q["jitter_ms"] for q in quality], 99),
        "loss_percent": 100.0 * lost / expected if expected else float("nan"),
        "clock_late_p99_ms": pct(late, 99),
        "tick_work_p50_ms": pct(work, 50),
        "tick_work_p99_ms": pct(work, 99),
        "tick_cpu_p50_ms": pct(tick_cpu, 50),
        "tick_cpu_p99_ms": pct(tick_cpu, 99),
        "load_1min": os.getloadavg()[0],
        "cpu_percent": 100 * cpu / wall,
        "loop_cpu_percent": 100 * loop_cpu / wall,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "recordings": recorded,
        "sipp_rc": sipp_rc if sipp_rc is not None else -1,
    }


async def _thread_cpu() -> float:
    """CPU seconds of the SIP loop's thread so far: the tick plus what runs between
    ticks (RTP received by callbacks, SIP), which tick CPU alone does not see."""
    return time.thread_time()


async def _snapshot(values: Any) -> list[float]:
    """A copy made on the SIP loop, which appends to `values` every tick."""
    return list(values)


def meets_targets(row: dict[str, float]) -> bool:
    return (
        row["failed"] == TARGETS["failed"]
        and row["retransmissions"] == TARGETS["retransmissions"]
        and row["setup_p99_ms"] < TARGETS["setup_p99_ms"]
        and row["deviation_p99_ms"] < TARGETS["deviation_p99_ms"]
        and row["loss_percent"] == 0
    )


def report(row: dict[str, float]) -> None:
    print(
        f"{row['calls']:4.0f} calls: failed {row['failed']:.0f}, retransmissions "
        f"{row['retransmissions']:.0f}, setup p50/p99 {row['setup_p50_ms']:.1f}/"
        f"{row['setup_p99_ms']:.1f} ms, RTP deviation p50/p99 {row['deviation_p50_ms']:.2f}/"
        f"{row['deviation_p99_ms']:.2f} ms, jitter p99 {row['jitter_p99_ms']:.2f} ms, loss "
        f"{row['loss_percent']:.3f} %, clock late p99 {row['clock_late_p99_ms']:.2f} ms, "
        f"tick work p50/p99 {row['tick_work_p50_ms']:.2f}/{row['tick_work_p99_ms']:.2f} ms "
        f"(CPU {row['tick_cpu_p50_ms']:.2f}/{row['tick_cpu_p99_ms']:.2f}), "
        f"CPU {row['cpu_percent']:.0f} % (SIP thread {row['loop_cpu_percent']:.0f} %), "
        f"RSS {row['rss_mb']:.0f} MB, recordings "
        f"{row['recordings']:.0f}, SIPp rc {row['sipp_rc']:.0f}, load {row['load_1min']:.1f} "
        f"-> {'meets' if meets_targets(row) else 'misses'} the targets",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="50,100,200", help="Concurrent calls, in order.")
    parser.add_argument("--rate", type=float, default=20.0, help="Calls placed per second.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Measured per level.")
    parser.add_argument("--rtp", default="20000-29999", help="Our RTP port range.")
    parser.add_argument("--search", type=int, default=0, help="Extra levels to bisect with.")
    parser.add_argument("--step", type=int, default=10, help="Search resolution (calls).")
    parser.add_argument(
        "--realtime", type=int, default=0,
        help="SCHED_FIFO priority of the media clock thread (MEDIA_REALTIME_PRIORITY); 0 off.",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callauto.settings")
    django.setup()
    from carrier.sip.clock import tune_process

    tune_process()  # as run_gateway does
    low, high = (int(port) for port in args.rtp.split("-"))
    rows: list[dict[str, float]] = []

    def measure(level: int) -> dict[str, float]:
        tmp = Path(tempfile.mkdtemp(prefix=f"sip-bench-{level}-"))
        row = run_level(level, args.rate, args.seconds, tmp, (low, high), args.realtime)
        rows.append(row)
        report(row)
        return row

    for level in (int(x) for x in args.levels.split(",")):
        measure(level)
    for _ in range(args.search):
        held = [int(r["calls"]) for r in rows if meets_targets(r)]
        missed = [int(r["calls"]) for r in rows if not meets_targets(r)]
        floor = max(held, default=0)
        above = [n for n in missed if n > floor]
        if not above:
            break  # every level held: raise --levels to find the limit
        ceiling = min(above)
        if ceiling - floor <= args.step:
            break
        measure((floor + ceiling) // 2)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load} on {os.cpu_count()} cores (others' work included)")
    held = [int(row["calls"]) for row in rows if meets_targets(row)]
    print(
        f"targets: 0 failed, 0 retransmissions, setup p99 < 50 ms, RTP deviation p99 < 5 ms, "
        f"loss 0 %; highest concurrency meeting them: {max(held) if held else 'none'}"
    )


if __name__ == "__main__":
    main()
