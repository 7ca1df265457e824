"""Part 3: callback deliveries per second with one worker, beside a raw POST loop.

With no cluster running, bench/backlog.py emits N events over a few connections (each
emit enqueues its delivery task on commit, as in production). Then one `manage.py
qcluster` with a single worker starts, and we time from its start until every webhook-id
has reached the loopback receiver. In the same run, a raw loop (one keep-alive
httpx.Client in one thread, in the backlog process) POSTs the same kind of body to the
same receiver N times; and the backlog process times the steps of one delivery in
process (claim, signatures, SSRF guard, POST, record), to show what a delivery spends its
time on.
"""

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import JSON_MARKER, PYTHON, ROOT
from bench.latency import _ask, _read_line
from bench.procs import BenchError, Service, stop_group
from bench.receiver import TimestampingReceiver

TAG = "throughput"
BACKLOG_SECONDS = 180  # emitting the backlog
DELIVERY_SECONDS = 120  # cluster start until every webhook-id is in


@dataclass
class ThroughputResult:
    events: int
    connections: int
    loops: int = 1  # delivery loop processes (DELIVERY_LOOPS)
    emitted: int = 0
    emit_seconds: float = 0.0
    queued: int = 0  # tasks in the ORM queue when the cluster starts (ours and older)
    arrived: int = 0  # unique webhook-ids
    duplicates: int = 0
    boot_seconds: float = float("nan")  # cluster start -> first arrival
    total_seconds: float = float("nan")  # cluster start -> last arrival
    raw: dict = field(default_factory=dict)
    costs: dict = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        """Deliveries per second from the cluster's start (boot included)."""
        return self.arrived / self.total_seconds if self.total_seconds > 0 else float("nan")

    @property
    def steady_per_second(self) -> float:
        """Deliveries per second from the first arrival to the last (boot excluded)."""
        span = self.total_seconds - self.boot_seconds
        return (self.arrived - 1) / span if span > 0 else float("nan")


def _ids(receiver: TimestampingReceiver, expected: set[str]) -> dict[str, list[float]]:
    arrivals: dict[str, list[float]] = {}
    for arrival in receiver.arrivals_since(0):
        if arrival.webhook_id in expected:
            arrivals.setdefault(arrival.webhook_id, []).append(arrival.at)
    return arrivals


def run_throughput(
    env: dict[str, str],
    log_dir: Path,
    events: int,
    connections: int,
    cost_samples: int,
    *,
    loops: int = 1,
) -> ThroughputResult:
    """Measure; every process started here is stopped before this returns."""
    result = ThroughputResult(events, connections, loops)
    receiver = TimestampingReceiver()
    argv = [PYTHON, "-m", "bench.backlog", "--callback", receiver.url, "--tag", TAG]
    argv += ["--events", str(events), "--connections", str(connections)]
    backlog = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = _read_line(backlog, BACKLOG_SECONDS)
        if not line.startswith(JSON_MARKER):
            raise BenchError(f"the backlog process said {line!r}")
        made = json.loads(line.removeprefix(JSON_MARKER))
        result.emitted, result.emit_seconds = made["emitted"], made["seconds"]
        result.queued = made["queued"]
        expected = set(made["webhook_ids"])
        cluster_env = {**env, "Q_WORKERS": "1", "DELIVERY_LOOPS": str(loops)}
        started = time.time()
        with Service(f"qcluster-throughput-{loops}", [PYTHON, "manage.py", "qcluster"], cluster_env,
                     log_dir, grace=3) as cluster:  # fmt: skip
            deadline = time.monotonic() + DELIVERY_SECONDS
            while len(_ids(receiver, expected)) < len(expected):
                cluster.check_alive()
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        arrivals = _ids(receiver, expected)
        result.arrived = len(arrivals)
        result.duplicates = sum(len(times) - 1 for times in arrivals.values())
        if arrivals:
            firsts = [min(times) for times in arrivals.values()]
            result.boot_seconds = min(firsts) - started
            result.total_seconds = max(firsts) - started
        result.raw = _ask(backlog, f"RAW {events}", 120)
        if cost_samples:
            result.costs = _ask(backlog, f"COSTS {cost_samples}", 120)
        return result
    finally:
        stop_group(backlog, grace=5)
        for pipe in (backlog.stdin, backlog.stdout):
            pipe.close()
        receiver.close()
