"""Part 2: event -> callback latency through django-q2, at steady rates.

For one broker: start `manage.py qcluster` and the producer (bench/produce.py), wait
until the producer's warm-up events have been delivered (the cluster is up and its
workers have loaded everything), then run each phase: the producer emits at the phase's
rate and we wait for the callbacks, stragglers included. Latency is the receiver's
arrival time minus the event's `sentAt`, both time.time() on this machine.
"""

import json
import selectors
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import flame
from bench.config import JSON_MARKER, PYTHON, ROOT
from bench.procs import BenchError, Service, stop_group
from bench.receiver import Arrival, TimestampingReceiver

STARTUP_SECONDS = 60  # cluster boot + first deliveries


@dataclass(frozen=True)
class Phase:
    name: str
    rate: float  # events per second
    seconds: float
    drain_seconds: float  # how long we wait for stragglers after the last emit


@dataclass
class LatencyResult:
    broker: str
    phase: Phase
    sent: int = 0
    planned: int = 0
    produce_seconds: float = 0.0
    emit_ms_p50: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    delivered_per_second: float = float("nan")  # arrivals / (last arrival - first sentAt)
    reordered: int = 0  # arrivals older than one already received on the same connection
    duplicates: int = 0  # the same event delivered more than once

    @property
    def arrived(self) -> int:
        return len(self.latencies_ms)

    @property
    def sent_per_second(self) -> float:
        return self.sent / self.produce_seconds if self.produce_seconds else float("nan")

    def percentile(self, q: int) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]


def _read_line(process: subprocess.Popen, seconds: float) -> str:
    """The producer's next stdout line, or BenchError after `seconds`."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout=seconds):
            raise BenchError(f"the event producer said nothing for {seconds:.0f} s")
    finally:
        selector.close()
    line = process.stdout.readline()
    if not line:
        raise BenchError("the event producer exited early (see its stderr above)")
    return line.strip()


def _wait_for(predicate: Callable[[], bool], seconds: float, alive: Service) -> bool:
    """Poll `predicate` for up to `seconds`, failing fast if `alive` has died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive.check_alive()
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _unique(arrivals: list[Arrival]) -> list[Arrival]:
    """The first arrival of each event (by its benchSeq), in arrival order."""
    first: dict[int, Arrival] = {}
    for arrival in sorted(arrivals, key=lambda a: a.at):
        first.setdefault(arrival.event["data"]["benchSeq"], arrival)
    return list(first.values())


def _reordered(arrivals: list[Arrival]) -> int:
    """How many events arrived after a later event of the same connection."""
    newest: dict[str, int] = {}
    late = 0
    for arrival in arrivals:
        data = arrival.event["data"]
        connection, seq = data["callConnectionId"], data["benchSeq"]
        if seq < newest.get(connection, -1):
            late += 1
        newest[connection] = max(seq, newest.get(connection, -1))
    return late


def _summarise(result: LatencyResult, arrivals: list[Arrival]) -> None:
    unique = _unique(arrivals)
    result.duplicates = len(arrivals) - len(unique)
    result.latencies_ms = [(a.at - a.event["data"]["sentAt"]) * 1000 for a in unique]
    result.reordered = _reordered(unique)
    if unique:
        first_sent = min(a.event["data"]["sentAt"] for a in unique)
        span = unique[-1].at - first_sent
        result.delivered_per_second = len(unique) / span if span > 0 else float("nan")


def _run_phase(
    producer: subprocess.Popen,
    receiver: TimestampingReceiver,
    cluster: Service,
    broker: str,
    phase: Phase,
) -> LatencyResult:
    tag = f"{broker}-{phase.name}"
    summary = _ask(producer, f"RUN {tag} {phase.rate} {phase.seconds}", phase.seconds + 30)
    result = LatencyResult(broker, phase, summary["sent"], summary["planned"])
    result.produce_seconds = summary["seconds"]
    result.emit_ms_p50 = summary["emit_ms_p50"]
    _wait_for(
        lambda: len(_unique(receiver.matching("BenchEvent", tag))) >= result.sent,
        phase.drain_seconds,
        cluster,
    )
    _summarise(result, receiver.matching("BenchEvent", tag))
    return result


def _ask(producer: subprocess.Popen, command: str, seconds: float) -> dict:
    """Send one command line to the producer and return the JSON it answers."""
    producer.stdin.write(command + "\n")
    producer.stdin.flush()
    line = _read_line(producer, seconds)
    if not line.startswith(JSON_MARKER):
        raise BenchError(f"the event producer answered {command!r} with {line!r}")
    return json.loads(line.removeprefix(JSON_MARKER))


def run_broker(
    broker: str,
    env: dict[str, str],
    log_dir: Path,
    phases: list[Phase],
    connections: int,
    *,
    measure_costs: bool = False,
    profile: bool = False,
) -> tuple[list[LatencyResult], dict | None]:
    """Measure one broker; every process started here is stopped before this returns.

    With `measure_costs`, the producer also times the per-callback steps first, while
    the cluster is idle (see bench/produce.py)."""
    receiver = TimestampingReceiver()
    producer: subprocess.Popen | None = None
    warmup_tag = f"{broker}-warmup"
    argv = [PYTHON, "manage.py", "qcluster"]
    try:
        # A short grace: an orderly stop would first work off the prefetched backlog, and
        # whatever is left queued is deleted by the bench's cleanup anyway.
        with Service(f"qcluster-{broker}", argv, env, log_dir, grace=3) as cluster:
            produce = [PYTHON, "-m", "bench.produce", "--callback", receiver.url]
            produce += ["--warmup-tag", warmup_tag, "--connections", str(connections)]
            producer = subprocess.Popen(
                produce,
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            if _read_line(producer, STARTUP_SECONDS) != "READY":
                raise BenchError("the event producer did not get ready")
            if not _wait_for(
                lambda: len(receiver.matching("BenchWarmup", warmup_tag)) >= connections,
                STARTUP_SECONDS,
                cluster,
            ):
                raise BenchError(
                    f"no warm-up callbacks arrived; end of the cluster log:\n{cluster.log_tail()}"
                )
            costs = _ask(producer, "COST", 60) if measure_costs else None
            results = []
            for phase in phases:
                # Flame graphs of the loaded phase: the cluster (its delivery loops) and
                # the producer (each event's own transaction).
                profiled = profile and phase.rate >= 100
                spies = [
                    flame.record(f"part2 {broker} {phase.name} {name}", pid, phase.seconds)
                    for name, pid in (("qcluster", cluster.process.pid), ("producer", producer.pid))
                    if profiled
                ]
                results.append(_run_phase(producer, receiver, cluster, broker, phase))
                flame.finish(spies)
            return results, costs
    finally:
        if producer is not None:
            stop_group(producer, grace=5)
            for pipe in (producer.stdin, producer.stdout):
                pipe.close()
        receiver.close()
