"""The bench orchestrator: set up the database, run the three parts, print the tables.

Every process it starts runs in its own process group and is stopped on the way out,
whether the bench succeeds, fails or is interrupted (SIGINT / SIGTERM).
"""

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import redis

from bench import api_ratios, latency, report, throughput
from bench.config import DATABASE_URL, JSON_MARKER, REDIS_URL, base_env
from bench.latency import LatencyResult, Phase
from bench.procs import BenchError, free_port, manage

# Part 2: a light phase shows the unloaded latency, then the rate the issue asks for.
PHASES = [
    Phase("5/s", rate=5.0, seconds=4.0, drain_seconds=10.0),
    Phase("100/s", rate=100.0, seconds=10.0, drain_seconds=20.0),
]
P99_GOAL_MS = {"orm": 300, "redis": 50}  # event -> callback at 100 events/s
EVENT_CONNECTIONS = 5  # events go round-robin over this many call connections
Q_WORKERS = 2
GOAL_RATIO = 0.5
BUSY_CPU = 0.2  # share of CPU time used by others before we start, above which we warn
# Part 3: one worker works off a backlog of this many events over this many connections.
THROUGHPUT_EVENTS = 1000
THROUGHPUT_CONNECTIONS = 20
COST_SAMPLES = 200  # deliveries timed step by step in one process


def shell(env: dict[str, str], function: str, redis_url: str) -> dict:
    """Run bench.db_setup.<function>(redis_url) in `manage.py shell -c`; return its JSON."""
    code = f"from bench import db_setup; db_setup.{function}({redis_url!r})"
    out = manage(env, "shell", "-c", code)
    for line in out.splitlines():
        if line.startswith(JSON_MARKER):
            return json.loads(line.removeprefix(JSON_MARKER))
    raise BenchError(f"db_setup.{function}() printed no result:\n{out[-2000:]}")


def setup_database(env: dict[str, str], redis_url: str) -> dict:
    """migrate and seed_demo as `make run` does (no TLS certificate: plain HTTP here)."""
    manage(env, "migrate", "--noinput", timeout=300)
    try:
        manage(env, "seed_demo")
    except BenchError as exc:
        raise BenchError(
            f"{exc}\nIf this database was seeded with other SECRETS_ENCRYPTION_KEYS, point "
            "BENCH_DATABASE_URL at a fresh database."
        ) from exc
    return shell(env, "configure", redis_url)


# --- Part 2 -------------------------------------------------------------------------


def redis_reachable() -> bool:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def part_two(
    env: dict[str, str], log_dir: Path, redis_url: str, profile: bool = False
) -> tuple[list[LatencyResult], dict]:
    """Both phases on the ORM broker, then on Redis when it is reachable; also the
    per-callback costs, timed once (on the ORM run, before its phases)."""
    brokers = {"orm": ""} | ({"redis": redis_url} if redis_url else {})
    results: list[LatencyResult] = []
    costs: dict = {}
    for broker, url in brokers.items():
        broker_env = {**env, "REDIS_URL": url, "Q_WORKERS": str(Q_WORKERS)}
        rows, measured = latency.run_broker(
            broker, broker_env, log_dir, PHASES, EVENT_CONNECTIONS, measure_costs=not costs,
            profile=profile,
        )  # fmt: skip
        results += rows
        costs = costs or measured or {}
    return results, costs


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _explain(result: LatencyResult, costs: dict) -> str:
    """One line on what bounds this row's latency."""
    label = f"{result.broker} @ {result.phase.name}:"
    if result.delivered_per_second < 0.9 * result.sent_per_second:
        jwt_ms = costs.get("jwt_ms")
        cause = (
            f"; each callback spends about {jwt_ms:.0f} ms of CPU on its JWT alone"
            if jwt_ms
            else ""
        )
        return (
            f"{label} saturated. The cluster delivered {report.fmt(result.delivered_per_second)}"
            f"/s of the {report.fmt(result.sent_per_second)}/s sent, so a backlog grew all run"
            f" long and latency is mostly time in the queue{cause}."
        )
    return (
        f"{label} keeps up. Callbacks go through the delivery loop, not the broker: a NOTIFY"
        " from the outbox wakes it when the event's transaction commits, so p50 is the emit"
        " plus one batch's work."
    )


def print_part_two(results: list[LatencyResult], costs: dict, redis_url: str) -> None:
    print(
        report.heading(
            f"2. Event -> callback latency: qcluster with {Q_WORKERS} workers, events "
            f"round-robin over {EVENT_CONNECTIONS} connections"
        )
    )
    rows = [
        (
            r.broker,
            f"{r.phase.rate:.0f}/s x {r.phase.seconds:.0f} s",
            r.sent,
            report.fmt(r.sent_per_second),
            r.arrived,
            report.fmt(r.delivered_per_second),
            report.fmt(r.percentile(50), 0),
            report.fmt(r.percentile(99), 0),
            report.fmt(max(r.latencies_ms, default=float("nan")), 0),
            r.reordered,
            r.duplicates,
            report.fmt(r.emit_ms_p50),
        )
        for r in results
    ]
    headers = ["broker", "offered", "sent", "sent/s", "arrived", "deliv/s", "p50 ms", "p99 ms"]
    headers += ["max ms", "reordered", "dupes", "emit ms"]
    print(report.table(headers, rows))
    goals = [
        (
            f"{r.broker} @ {r.phase.name}: p99, lost, reordered",
            f"{report.fmt(r.percentile(99), 0)} ms, {r.sent - r.arrived}, {r.reordered}",
            f"<= {P99_GOAL_MS[r.broker]} ms, 0, 0",
            "met"
            if r.percentile(99) <= P99_GOAL_MS[r.broker] and r.sent == r.arrived and not r.reordered
            else "NOT met",
        )
        for r in results
        if r.phase.rate >= 100
    ]
    print(report.table(["event -> callback (issue 15 goals)", "value", "goal", ""], goals))
    if not redis_url:
        print("Redis: not reachable at 127.0.0.1:6379, so only the ORM broker was measured.")
    notes = [
        "latency = receiver arrival - sentAt (time.time() just before the emitting transaction);"
        f" stragglers awaited up to {PHASES[-1].drain_seconds:.0f} s after the last emit;"
        " deliv/s = arrived / (last arrival - first sentAt); reordered = arrived after a later"
        " event of the same connection; emit ms = p50 of the producer's transaction (CallEvent"
        " + Delivery rows) plus the enqueue.",
    ]
    if costs:
        notes.append(
            "costs (mean ms in one process, cluster idle): bearer JWT per callback"
            f" {_ms(costs.get('jwt_ms'))}, webhook signature per callback"
            f" {_ms(costs.get('webhook_ms'))}, new httpx.Client per task"
            f" {_ms(costs.get('client_ms'))}."
        )
    notes += [_explain(result, costs) for result in results]
    for note in notes:
        print(textwrap.fill(note, width=100, initial_indent="- ", subsequent_indent="  "))


# --- Part 3 -------------------------------------------------------------------------


# --- Main ---------------------------------------------------------------------------


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop processes


def _cpu_busy(seconds: float = 1.0) -> float | None:
    """The share of CPU time spent busy over `seconds`, from /proc/stat (None elsewhere)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    try:
        total_before, idle_before = sample()
        time.sleep(seconds)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total_after - total_before
    return 1 - (idle_after - idle_before) / total if total else None


def _describe_database() -> str:
    parts = urlsplit(DATABASE_URL)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 5432}{parts.path}"


Progress = Callable[[str], None]


def run_part_one(
    env: dict[str, str], port: int, info: dict, var_dir: Path, profile: bool, progress: Progress
) -> None:
    rounds = 2 * api_ratios.ROUNDS * api_ratios.ROUND_SECONDS
    progress(f"part 1: callauto and the floor side by side, five pairs of {rounds:.0f} s each")
    pairs, created = api_ratios.part_one(env, port, info["access_key"], var_dir, profile)
    deleted = shell(env, "cleanup", info.get("redis_url", ""))["deleted"]
    api_ratios.print_part_one(pairs, created, deleted, info["database"])


def run_part_three(env: dict[str, str], var_dir: Path, redis_url: str, progress: Progress) -> None:
    # Part 2's clusters stop with no-op delivery tasks still queued; part 3's one
    # worker would work through those first.
    shell(env, "cleanup", redis_url)
    progress(
        f"part 3: {THROUGHPUT_EVENTS} callbacks from a cold start, {THROUGHPUT_EVENTS} more into"
        " the running cluster, and a raw POST loop, about 60 s"
    )
    delivered = throughput.run_throughput(
        env, var_dir, THROUGHPUT_EVENTS, THROUGHPUT_CONNECTIONS, COST_SAMPLES
    )
    throughput.print_part_three(delivered, GOAL_RATIO)
    progress("part 3b: the same with two delivery loop processes (scaling 1 -> 2)")
    scaled = throughput.run_throughput(
        env, var_dir, THROUGHPUT_EVENTS, THROUGHPUT_CONNECTIONS, 0, loops=2
    )
    throughput.print_part_three(scaled, GOAL_RATIO)
    print(
        f"scaling 1 -> 2 loops: {report.fmt(delivered.per_second)} ->"
        f" {report.fmt(scaled.per_second)} deliveries/s (running, idle cluster; cold start"
        f" {report.fmt(delivered.cold_per_second)} -> {report.fmt(scaled.cold_per_second)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 1 or 2,3")
    parser.add_argument("--profile", action="store_true", help="py-spy flame graphs, bench/out/")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {message}", flush=True)

    print(
        f"callauto bench on {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"database {_describe_database()}"
    )
    busy = _cpu_busy()
    if busy is not None and busy > BUSY_CPU:
        print(f"warning: the CPUs were {busy:.0%} busy before we started; figures will be low")
    with tempfile.TemporaryDirectory(prefix="callauto-bench-") as tmp:
        var_dir = Path(tmp)
        port = free_port()
        env = base_env(var_dir, port)
        redis_url = REDIS_URL if redis_reachable() else ""
        try:
            progress("setting up the database: migrate, seed_demo, raise the call limit")
            info = setup_database(env, redis_url)
            if info["leftovers"]:
                progress(f"deleted {info['leftovers']} rows left by an earlier bench run")
            if "1" in parts:
                run_part_one(env, port, {**info, "redis_url": redis_url}, var_dir, args.profile,
                             progress)  # fmt: skip
            if "2" in parts:
                progress(f"part 2: qcluster, {len(PHASES)} phases per broker, up to 45 s each")
                events, costs = part_two(env, var_dir, redis_url, args.profile)
                print_part_two(events, costs, redis_url)
            if "3" in parts:
                run_part_three(env, var_dir, redis_url, progress)
        except BenchError as exc:
            print(f"\nbench failed: {exc}", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, SystemExit):
            print("\nbench interrupted; stopping what it started", file=sys.stderr)
            raise
        finally:
            try:
                shell(env, "cleanup", redis_url)
            except BenchError as exc:
                print(f"cleanup failed: {exc}", file=sys.stderr)
    print(f"\nWall time: {time.monotonic() - started:.0f} s")
    return 0
