"""Part 3: callback deliveries per second, beside a raw POST loop.

With no cluster running, bench/backlog.py emits N events over a few connections, each in
its own transaction (as in production). Then `manage.py qcluster` starts (Q_WORKERS=1 and
DELIVERY_LOOPS loops) and we time from its start until every webhook-id has reached the
loopback receiver: the cold-start figure, which includes the cluster's boot. Then, with
the cluster running and idle, the backlog process commits N more events at one instant
(one transaction, a savepoint each: `BURST`), and we time from that COMMIT until the last
of them arrived: the figure compared with the raw loop, which is timed the same way (a
running process, no boot). The raw loop is one keep-alive httpx.Client in one thread of
the backlog process, POSTing the same kind of body to the same receiver N times; the
backlog process also times the steps of one delivery of the per-task path in process
(claim, signatures, SSRF guard, POST, record), to show what a delivery spends its time on.
"""

import json
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import report
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
    warm_arrived: int = 0  # the burst into the running cluster: unique webhook-ids
    warm_duplicates: int = 0
    warm_emit_seconds: float = 0.0
    warm_first_seconds: float = float("nan")  # burst COMMIT -> first arrival
    warm_seconds: float = float("nan")  # burst COMMIT -> last arrival
    raw: dict = field(default_factory=dict)
    costs: dict = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        """Deliveries per second of a running, idle cluster, from the COMMIT that published
        them to the last arrival (what the raw loop is compared with)."""
        return self.warm_arrived / self.warm_seconds if self.warm_seconds > 0 else float("nan")

    @property
    def cold_per_second(self) -> float:
        """Deliveries per second from the cluster's start (boot included)."""
        return self.arrived / self.total_seconds if self.total_seconds > 0 else float("nan")

    @property
    def steady_per_second(self) -> float:
        """Deliveries per second from the first arrival to the last (boot excluded)."""
        span = self.total_seconds - self.boot_seconds
        return (self.arrived - 1) / span if span > 0 else float("nan")


def _wait_all(receiver: TimestampingReceiver, expected: set[str], cluster: Service) -> None:
    deadline = time.monotonic() + DELIVERY_SECONDS
    while len(_ids(receiver, expected)) < len(expected):
        cluster.check_alive()
        if time.monotonic() >= deadline:
            return
        time.sleep(0.02)


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
            _wait_all(receiver, expected, cluster)
            arrivals = _ids(receiver, expected)
            # The cluster is running and idle: publish a backlog at one instant.
            burst = _ask(backlog, f"BURST {events}", BACKLOG_SECONDS)
            warm = set(burst["webhook_ids"])
            _wait_all(receiver, warm, cluster)
        result.arrived = len(arrivals)
        result.duplicates = sum(len(times) - 1 for times in arrivals.values())
        if arrivals:
            firsts = [min(times) for times in arrivals.values()]
            result.boot_seconds = min(firsts) - started
            result.total_seconds = max(firsts) - started
        warm_arrivals = _ids(receiver, warm)
        result.warm_arrived = len(warm_arrivals)
        result.warm_duplicates = sum(len(times) - 1 for times in warm_arrivals.values())
        result.warm_emit_seconds = burst["seconds"]
        if warm_arrivals:
            firsts = [min(times) for times in warm_arrivals.values()]
            result.warm_first_seconds = min(firsts) - burst["committed_at"]
            result.warm_seconds = max(firsts) - burst["committed_at"]
        result.raw = _ask(backlog, f"RAW {events}", 120)
        if cost_samples:
            result.costs = _ask(backlog, f"COSTS {cost_samples}", 120)
        return result
    finally:
        stop_group(backlog, grace=5)
        for pipe in (backlog.stdin, backlog.stdout):
            pipe.close()
        receiver.close()


# --- printing -------------------------------------------------------------------


def print_part_three(result: ThroughputResult, goal: float) -> None:
    print(
        report.heading(
            f"3. Callback throughput: qcluster with {result.loops} delivery loop(s) works off"
            f" {result.events} events over {result.connections} connections"
        )
    )
    raw_rate = result.raw.get("per_second", float("nan"))
    ratio = result.per_second / raw_rate if raw_rate else float("nan")
    verdict = "met" if ratio >= goal else "NOT met"
    cold = result.cold_per_second / raw_rate if raw_rate else float("nan")
    rows = [
        ("delivered (unique webhook-ids)", f"{result.warm_arrived} / {result.events}"),
        ("duplicates", result.warm_duplicates),
        ("emitting the burst (one transaction)", f"{report.fmt(result.warm_emit_seconds, 2)} s"),
        ("COMMIT -> first callback", f"{report.fmt(result.warm_first_seconds, 3)} s"),
        ("COMMIT -> last callback", f"{report.fmt(result.warm_seconds, 2)} s"),
        ("deliveries/s (running, idle cluster)", report.fmt(result.per_second)),
        (
            "raw POSTs/s (one keep-alive httpx.Client)",
            f"{report.fmt(raw_rate)} ({result.raw.get('errors', '?')} errors)",
        ),
        ("ratio deliveries / raw POSTs", f"{report.fmt(ratio, 3)} (goal >= {goal}: {verdict})"),
        ("cold start: delivered, duplicates",
         f"{result.arrived} / {result.emitted}, {result.duplicates}"),
        ("cold start: cluster start -> first / last callback",
         f"{report.fmt(result.boot_seconds, 2)} / {report.fmt(result.total_seconds, 2)} s"),
        ("cold start: deliveries/s from cluster start (boot included)",
         report.fmt(result.cold_per_second)),
        ("cold start: ratio (boot included) / first to last callback",
         f"{report.fmt(cold, 3)} / "
         f"{report.fmt(result.steady_per_second / raw_rate if raw_rate else float('nan'), 3)}"),
    ]  # fmt: skip
    print(report.table(["", "value"], rows))
    costs = result.costs
    notes = [
        f"The cluster's delivery loops (webhooks/loop.py, DELIVERY_LOOPS={result.loops}:"
        " processes beside the worker) claim pending callbacks in batches, send them on kept-alive"
        " connections and record them in bulk; no task is queued per event. The raw loop"
        " POSTs the body of one such event, with the same kind of headers, to the same"
        " receiver from one thread of another process. Both are timed in running processes:"
        " ours from the COMMIT of a burst of events into the idle cluster to the last callback"
        " (the cold-start rows add the cluster's boot, as earlier sessions counted it).",
    ]
    for note in notes:
        print(textwrap.fill(note, width=100, initial_indent="- ", subsequent_indent="  "))
    if ratio >= goal or not costs:
        return
    if "total" not in costs:
        print(f"What a delivery spends its time on was not measured: {costs.get('error')}")
        return
    print_delivery_costs(costs, result.per_second, raw_rate)


def print_delivery_costs(costs: dict, per_second: float, raw_rate: float) -> None:
    """What one delivery spends its time on (timed in one process, cluster stopped)."""
    sql = costs.get("queries", {})
    total = costs["total"]
    commit = costs["commit"]

    def split(step: str) -> str:
        python = costs[step] - costs[f"{step}_sql"] - commit
        return f"SQL {costs[f'{step}_sql']:.2f} + COMMIT ~{commit:.2f} + Python ~{python:.2f} ms"

    steps = [
        (f"claim transaction ({sql.get('claim', '?')} statements)", costs["claim"], split("claim")),
        (f"record transaction ({sql.get('record', '?')} statements)", costs["record"],
         split("record")),
        ("bearer JWT (RS256, key lookup)", costs["jwt"], ""),
        ("webhook signature (secret lookup)", costs["webhook"], ""),
        ("POST (keep-alive), response", costs["post"], "send() minus the 4 steps beside it"),
        ("SSRF guard (resolve, vet)", costs["guard"], ""),
        ("CloudEvent body (JSON)", costs["body"], ""),
    ]  # fmt: skip
    steps.sort(key=lambda step: -step[1])
    rows = [(name, f"{ms:.2f}", f"{ms / total:.0%}", note) for name, ms, note in steps]
    rows.append(("total (claim + send + record)", f"{total:.2f}", "100%", f"{1000 / total:.0f}/s"))
    print(
        "\nFor comparison, the per-task path (DELIVERY_LOOPS=0: webhooks.delivery.deliver_key),"
        f" one delivery step by step (mean of {costs['count']}):"
    )
    print(report.table(["step", "ms", "share", ""], rows))
    per_delivery = 1000 / per_second if per_second > 0 else float("nan")
    note = (
        "Statements are counted with BEGIN and COMMIT; SQL = time inside the statements'"
        " execute(), COMMIT = a one-row write transaction's COMMIT timed alone (WAL flush),"
        " Python = the rest: the ORM building queries and model instances. The JWT and the"
        " signature each read their key from the database first. In the cluster a delivery"
        f" took {report.fmt(per_delivery, 2)} ms (running cluster, from the COMMIT); a raw POST"
        f" took {1000 / raw_rate:.2f} ms."
    )
    print(textwrap.fill(note, width=100, initial_indent="- ", subsequent_indent="  "))
