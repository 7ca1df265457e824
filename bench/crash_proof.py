"""Crash proof of durable callback delivery: `make crash-proof` (`python -m bench.crash_proof`).

Two scenarios with real processes on 127.0.0.1, against the bench database:

a. SIGKILL: a django-q2 cluster (`manage.py qcluster`, ORM broker, 2 workers, its own
   process group) delivers to a loopback receiver while this script emits 1,000 events
   over 10 call connections at a steady rate, each in its own transaction through
   `calls.events.emit`. Once ~30 % have arrived the cluster's whole process group gets
   SIGKILL; the producer keeps going, and the cluster is started again a little later.
b. PostgreSQL restart: the same, but instead of killing the cluster PostgreSQL itself is
   restarted (`pg_ctlcluster --skip-systemctl-redirect <version> main restart`). The
   producer retries an emit whose transaction failed (OperationalError / InterfaceError),
   and the cluster must recover by itself.

Recovery is driven the way production does it: the sweeper `webhooks.delivery.sweep()`, which
production runs every minute from a django-q2 schedule, is called from this script every
few seconds; DELIVERY_TIMEOUT_SECONDS is small, so a delivery a killed worker left
"delivering" is released after 2 x timeout + 30 s. Each scenario waits until every
webhook-id is in (and every Delivery row has settled) or a time limit passes, then prints
what was emitted, received (duplicates counted), lost, and the final Delivery states.
The exit status is non-zero if anything was lost.

Django runs inside this process (the ORM broker only, so settings are read once, here);
every process it starts runs in its own process group and is stopped on the way out.
PostgreSQL is checked (and started if need be) before the script exits.
"""

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import django

from bench import report
from bench.config import DATABASE_URL, PYTHON, base_env
from bench.procs import BenchError, Service, free_port
from bench.receiver import TimestampingReceiver
from bench.run import setup_database

if TYPE_CHECKING:
    from calls.models import CallConnection

EVENTS = 1000
CONNECTIONS = 10
RATE = 200.0  # events per second offered by the producer
KILL_AT = 0.3  # disrupt once this share of the events has been received
Q_WORKERS = 2
DELIVERY_TIMEOUT_SECONDS = 2  # so a stuck "delivering" row is released after 2 * 2 + 30 s
SWEEP_EVERY = 5.0  # seconds between the script's calls of webhooks.delivery.sweep()
CLUSTER_DOWNTIME = 2.0  # seconds between the SIGKILL and the cluster's restart
RECOVERY_LIMIT = 120.0  # seconds after the disruption we wait for every webhook-id
STARTUP_SECONDS = 60  # cluster boot until the warm-up callbacks are in
EMIT_RETRY_SECONDS = 60  # how long the producer retries one emit
STALL_SECONDS = 20  # claimable work and no new attempt for this long: the cluster is stuck
CHECK_EVERY = 1.0  # seconds between database checks of the scenario's deliveries
EVENT_TYPE = "CrashProofEvent"
WARMUP_TYPE = "CrashProofWarmup"
DB_ERRORS: tuple[type[Exception], ...] = ()  # OperationalError, InterfaceError once set up

T = TypeVar("T")


def _stamp(started: float) -> Callable[[str], None]:
    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {message}", flush=True)

    return progress


def _close_db() -> None:
    from django.db import connection

    with suppress(Exception):  # closing a connection the server dropped may complain
        connection.close()


def db_call(action: Callable[[], T], seconds: float = 60) -> T:
    """Run `action` (ORM work in autocommit), reconnecting and retrying while the
    database is unreachable, for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except DB_ERRORS:
            _close_db()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


# --- the producer -----------------------------------------------------------------------


class Producer(threading.Thread):
    """Emits `total` events round-robin over `connections` at `rate` per second, each in
    its own transaction (calls.events.emit, the delivery task enqueued on commit). An emit
    whose transaction fails with a connection error is retried on a new connection; one
    that committed but whose on-commit enqueue failed is not (the sweeper sends it)."""

    def __init__(self, connections: list["CallConnection"], tag: str) -> None:
        super().__init__(name=f"producer-{tag}", daemon=True)
        self.connections = connections
        self.tag = tag
        self.webhook_ids: list[str] = []  # of committed events, in emit order
        self.retries = 0
        self.enqueue_failures = 0  # committed, but the on-commit enqueue raised
        self.errors: Counter = Counter()
        self.failure: BaseException | None = None
        self.started_at = 0.0
        self.seconds = 0.0
        self.halt = threading.Event()  # set to stop early (the scenario failed)

    @property
    def finished(self) -> bool:
        return not self.is_alive() and self.started_at > 0

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            for index in range(EVENTS):
                if self.halt.is_set():
                    break
                due = self.started_at + index / RATE
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
                self._emit(self.connections[index % len(self.connections)], index)
        except BaseException as exc:  # reported by the scenario
            self.failure = exc
        finally:
            self.seconds = time.monotonic() - self.started_at
            _close_db()

    def _emit(self, connection: "CallConnection", index: int) -> None:
        from django.db import transaction

        from calls.events import emit

        deadline = time.monotonic() + EMIT_RETRY_SECONDS
        while True:
            committed: list[bool] = []
            event = None
            try:
                with transaction.atomic():
                    # Runs first among the on-commit hooks, before emit's enqueue.
                    transaction.on_commit(functools.partial(committed.append, True))
                    event = emit(
                        connection, EVENT_TYPE, benchRun=self.tag, benchSeq=index,
                        sentAt=time.time(),
                    )  # fmt: skip
                self.webhook_ids.append(f"msg_{event.event_id.hex}")
                return
            except DB_ERRORS as exc:
                self.errors[type(exc).__name__] += 1
                _close_db()
                if committed and event is not None:
                    self.enqueue_failures += 1
                    self.webhook_ids.append(f"msg_{event.event_id.hex}")
                    return
                if time.monotonic() >= deadline or self.halt.is_set():
                    raise
                self.retries += 1
                time.sleep(0.1)


# --- one scenario -----------------------------------------------------------------------


@dataclass
class Result:
    name: str
    emitted: int = 0
    produce_seconds: float = 0.0
    emit_retries: int = 0
    emit_errors: dict = field(default_factory=dict)
    enqueue_failures: int = 0
    in_db: int = 0
    unique: int = 0
    duplicates: int = 0
    duplicated_ids: int = 0
    unexpected: int = 0
    lost: int = 0
    disrupted_at_received: int = 0
    disrupted_at_emitted: int = 0
    left_delivering: int = 0  # rows in "delivering" right after the disruption
    recovery_seconds: float | None = None  # disruption -> last new webhook-id
    settled_seconds: float | None = None  # disruption -> every Delivery row settled
    states: dict = field(default_factory=dict)
    redelivered: int = 0  # deliveries with more than one attempt
    sweeps: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    complete: bool = False


class Scenario:
    """The shared machinery: connections, clusters, arrivals, sweeps, checks."""

    def __init__(
        self,
        name: str,
        tag: str,
        env: dict[str, str],
        log_dir: Path,
        receiver: TimestampingReceiver,
        progress: Callable[[str], None],
    ) -> None:
        from bench.produce import make_connections

        self.tag = tag
        self.env = {**env, "Q_WORKERS": str(Q_WORKERS)}
        self.log_dir = log_dir
        self.receiver = receiver
        self.progress = progress
        self.result = Result(name)
        self.connections = db_call(lambda: make_connections(receiver.url, CONNECTIONS))
        self.connection_ids = [c.pk for c in self.connections]
        self.ordering_keys = [f"connection:{pk}" for pk in self.connection_ids]
        self.clusters: list[Service] = []
        self.producer: Producer | None = None
        self.received: Counter = Counter()  # webhook-id -> arrivals, this scenario's events
        self.warmups: set[str] = set()
        self.last_new_at = 0.0  # time.time() of the latest first arrival
        self._read = len(receiver.arrivals_since(0))  # earlier scenarios' arrivals: not ours
        self._attempts = -1
        self._waiting_since: float | None = None  # claimable work seen, no attempt since

    # processes

    @property
    def cluster(self) -> Service:
        return self.clusters[-1]

    def start_cluster(self) -> None:
        argv = [PYTHON, "manage.py", "qcluster"]
        name = f"qcluster-{self.tag}-{len(self.clusters) + 1}"
        self.clusters.append(Service(name, argv, self.env, self.log_dir, grace=3))

    def kill_cluster(self) -> int:
        """SIGKILL the cluster's whole process group; return how many processes it had."""
        pgid = self.cluster.process.pid
        members = _group_members(pgid)
        os.killpg(pgid, signal.SIGKILL)
        self.cluster.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)  # orphans die a moment later
        return len(members)

    def stop(self) -> None:
        """Stop the producer, then every cluster started (each by its process group)."""
        if self.producer is not None and self.producer.is_alive():
            self.producer.halt.set()
            self.producer.join(timeout=EMIT_RETRY_SECONDS)
        for cluster in self.clusters:
            cluster.stop()

    # arrivals

    def poll(self) -> None:
        new = self.receiver.arrivals_since(self._read)
        self._read += len(new)
        for arrival in new:
            if arrival.event.get("data", {}).get("benchRun") != self.tag:
                continue
            kind = arrival.event.get("type", "").rsplit(".", 1)[-1]
            if kind == WARMUP_TYPE:
                self.warmups.add(arrival.webhook_id)
            elif kind == EVENT_TYPE:
                if arrival.webhook_id not in self.received:
                    self.last_new_at = max(self.last_new_at, arrival.at)
                self.received[arrival.webhook_id] += 1

    def warm_up(self) -> None:
        """Start the cluster and wait until it delivers one event per connection."""
        from django.db import transaction

        from calls.events import emit

        self.start_cluster()

        def emit_warmups() -> None:
            for connection in self.connections:
                with transaction.atomic():
                    emit(connection, WARMUP_TYPE, benchRun=self.tag)

        db_call(emit_warmups)
        deadline = time.monotonic() + STARTUP_SECONDS
        while len(self.warmups) < CONNECTIONS:
            self.cluster.check_alive()
            if time.monotonic() >= deadline:
                raise BenchError(
                    f"no warm-up callbacks within {STARTUP_SECONDS} s; end of the cluster"
                    f" log:\n{self.cluster.log_tail()}"
                )
            time.sleep(0.1)
            self.poll()

    # the database's view

    def _ours(self):  # the scenario's deliveries (a QuerySet), warm-ups excluded
        from webhooks.models import Delivery

        return Delivery.unscoped.filter(ordering_key__in=self.ordering_keys, event_type=EVENT_TYPE)

    def reset_stall_clock(self) -> None:
        self._waiting_since = None

    def delivering(self) -> int:
        from webhooks.models import Delivery

        return db_call(lambda: self._ours().filter(state=Delivery.State.DELIVERING).count())

    def sweep(self) -> None:
        from webhooks.delivery import sweep

        counts = db_call(sweep)
        self.result.sweeps.update(counts)
        self.result.sweeps["calls"] += 1
        if counts.get("released"):
            self.progress(f"sweeper released {counts['released']} stuck 'delivering' rows")

    def check(self) -> tuple[bool, bool]:
        """(every event row settled as delivered or dead, the cluster looks stuck).

        Stuck: deliveries have been claimable (pending on a connection with none in flight)
        for STALL_SECONDS and no attempt has been recorded meanwhile; the sweeper enqueues
        them every SWEEP_EVERY s, so a working cluster would have tried."""
        from webhooks.models import Delivery, DeliveryAttempt

        state = Delivery.State

        def look() -> tuple[bool, bool, int]:
            ours = self._ours()
            unsettled = ours.exclude(state__in=[state.DELIVERED, state.DEAD]).exists()
            in_flight = ours.filter(state=state.DELIVERING).values("ordering_key")
            claimable = (
                ours.filter(state=state.PENDING).exclude(ordering_key__in=in_flight).exists()
            )
            attempts = DeliveryAttempt.unscoped.filter(
                delivery__ordering_key__in=self.ordering_keys
            ).count()
            return not unsettled, claimable, attempts

        settled, claimable, attempts = db_call(look)
        now = time.monotonic()
        if attempts != self._attempts or not claimable:
            self._attempts = attempts
            self._waiting_since = now if claimable else None
        elif self._waiting_since is None:
            self._waiting_since = now
        waited = now - self._waiting_since if self._waiting_since is not None else 0.0
        return settled, waited >= STALL_SECONDS

    def finish(self, producer: Producer, disrupted_at: float | None) -> Result:
        """Fill in the result from the producer, the receiver and the database."""
        from django.db.models import Count

        result = self.result
        result.emitted = len(producer.webhook_ids)
        result.produce_seconds = producer.seconds
        result.emit_retries = producer.retries
        result.emit_errors = dict(producer.errors)
        result.enqueue_failures = producer.enqueue_failures

        def read() -> tuple[list[str], dict, int]:
            ours = self._ours()
            hexes = ours.values_list("message_id", flat=True)
            states = dict(ours.values_list("state").annotate(n=Count("pk")).order_by("state"))
            redelivered = ours.filter(attempts__gt=1).count()
            return [f"msg_{h.hex}" for h in hexes], states, redelivered

        in_db, result.states, result.redelivered = db_call(read)
        expected = set(producer.webhook_ids) | set(in_db)
        result.in_db = len(in_db)
        received = set(self.received)
        result.unique = len(received & expected)
        result.duplicates = sum(self.received.values()) - len(received)
        result.duplicated_ids = sum(1 for n in self.received.values() if n > 1)
        result.unexpected = len(received - expected)
        result.lost = len(expected - received)
        if disrupted_at is not None and not result.lost:
            result.recovery_seconds = max(self.last_new_at - disrupted_at, 0.0)
        return result


def _group_members(pgid: int) -> list[int]:
    """PIDs of the live (non-zombie) processes in process group `pgid` (from /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp
            members.append(int(stat.parent.name))
    return members


# --- PostgreSQL -------------------------------------------------------------------------


def _pg_address() -> tuple[str, int]:
    parts = urlsplit(DATABASE_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def pg_version() -> str:
    """The PostgreSQL cluster to restart: /etc/postgresql/<version>/main (the newest)."""
    root = Path("/etc/postgresql")
    versions = sorted(
        (p.name for p in root.glob("*") if (p / "main").is_dir()),
        key=lambda v: [int(x) for x in v.split(".") if x.isdigit()],
    )
    if not versions or not shutil.which("pg_ctlcluster"):
        raise BenchError(
            "scenario b restarts PostgreSQL with pg_ctlcluster (Debian's postgresql-common);"
            " no /etc/postgresql/<version>/main or no pg_ctlcluster here"
        )
    return versions[-1]


def pg_ready(seconds: float = 1) -> bool:
    host, port = _pg_address()
    argv = ["pg_isready", "-h", host, "-p", str(port), "-t", str(max(int(seconds), 1))]
    try:
        return subprocess.run(argv, capture_output=True, timeout=seconds + 10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pg_ctl(action: str, version: str, seconds: float = 120) -> None:
    argv = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)} took more than {seconds:.0f} s") from exc
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()}")


def ensure_postgres(version: str | None, progress: Callable[[str], None]) -> bool:
    """PostgreSQL must be up when we leave: check, and start it if we can."""
    if pg_ready(5):
        return True
    progress("PostgreSQL is not accepting connections; starting it")
    if version is not None:
        with suppress(BenchError):
            pg_ctl("start", version)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if pg_ready(2):
            return True
        time.sleep(1)
    return False


# --- running a scenario -----------------------------------------------------------------


def run_scenario(
    scenario: Scenario, disrupt: Callable[[], None], *, restart_after: float | None
) -> Result:
    """Warm up, produce, disrupt once KILL_AT of the events are in, sweep every
    SWEEP_EVERY s, restart the cluster `restart_after` s after the disruption (if given)
    or when it is stuck, and wait for every webhook-id and every row to settle."""
    result = scenario.result
    progress = scenario.progress
    scenario.warm_up()
    progress(f"{result.name}: cluster up, producing {EVENTS} events at {RATE:.0f}/s")
    producer = scenario.producer = Producer(scenario.connections, scenario.tag)
    producer.start()
    disrupted_at: float | None = None  # time.time()
    disrupted_mono = 0.0
    restarted = restart_after is None
    produced_at: float | None = None
    next_sweep = time.monotonic() + SWEEP_EVERY
    next_check = time.monotonic()
    stuck_restarts = 0
    while True:
        time.sleep(0.1)
        scenario.poll()
        now = time.monotonic()
        if producer.finished and produced_at is None:
            produced_at = now
            if producer.failure is not None:
                raise BenchError(f"the producer failed: {producer.failure!r}")
            progress(
                f"producer done: {len(producer.webhook_ids)} events in {producer.seconds:.1f} s"
            )
        if disrupted_at is None and (
            len(scenario.received) >= KILL_AT * EVENTS or produced_at is not None
        ):
            result.disrupted_at_received = len(scenario.received)
            result.disrupted_at_emitted = len(producer.webhook_ids)
            disrupted_at, disrupted_mono = time.time(), now
            disrupt()
            result.left_delivering = scenario.delivering()
            progress(f"{result.left_delivering} deliveries left 'delivering' by the disruption")
            now = time.monotonic()
        if disrupted_at is None:
            scenario.cluster.check_alive()
        elif not restarted and now - disrupted_mono >= (restart_after or 0):
            scenario.start_cluster()
            restarted = True
            progress(f"cluster restarted {now - disrupted_mono:.1f} s after the SIGKILL")
        elif restarted and scenario.cluster.process.poll() is not None:
            code = scenario.cluster.process.returncode
            note = f"the cluster exited by itself (status {code}); restarted it"
            result.notes.append(note)
            progress(note + f"; end of its log:\n{scenario.cluster.log_tail()}")
            scenario.start_cluster()
        if now >= next_sweep:
            scenario.sweep()
            next_sweep = now + SWEEP_EVERY
        if now >= next_check and produced_at is not None:
            next_check = now + CHECK_EVERY
            settled, stuck = scenario.check()
            everything_in = set(producer.webhook_ids) <= set(scenario.received)
            if settled and everything_in:
                if disrupted_at is not None:
                    result.settled_seconds = time.time() - disrupted_at
                result.complete = True
                break
            if stuck and restarted and stuck_restarts < 2:
                stuck_restarts += 1
                note = (
                    f"deliveries were claimable for {STALL_SECONDS} s and the cluster made no"
                    f" attempt; restarted it ({stuck_restarts})"
                )
                result.notes.append(note)
                progress(note)
                scenario.cluster.stop()
                scenario.start_cluster()
                scenario.reset_stall_clock()
        if disrupted_at is not None and time.time() - disrupted_at > RECOVERY_LIMIT:
            result.notes.append(f"gave up {RECOVERY_LIMIT:.0f} s after the disruption")
            progress(f"{result.name}: time limit reached")
            break
    producer.join(timeout=EMIT_RETRY_SECONDS)
    scenario.stop()
    return scenario.finish(producer, disrupted_at)


def scenario_kill(
    env: dict[str, str], log_dir: Path, receiver: TimestampingReceiver, progress: Callable
) -> Result:
    scenario = Scenario("a. SIGKILL", "crash-kill", env, log_dir, receiver, progress)
    try:

        def disrupt() -> None:
            pgid = scenario.cluster.process.pid
            count = scenario.kill_cluster()
            result = scenario.result
            progress(
                f"SIGKILL to the cluster's process group {pgid} ({count} processes) at"
                f" {result.disrupted_at_received} received, {result.disrupted_at_emitted} emitted"
            )

        return run_scenario(scenario, disrupt, restart_after=CLUSTER_DOWNTIME)
    finally:
        scenario.stop()
        _cleanup(scenario, progress)


def scenario_postgres(
    env: dict[str, str],
    log_dir: Path,
    receiver: TimestampingReceiver,
    progress: Callable,
    version: str,
) -> Result:
    scenario = Scenario("b. PostgreSQL restart", "crash-pg", env, log_dir, receiver, progress)
    try:

        def disrupt() -> None:
            began = time.monotonic()
            pg_ctl("restart", version)
            took = time.monotonic() - began
            ready = pg_ready(30)
            scenario.result.notes.append(
                f"pg_ctlcluster {version} main restart took {took:.1f} s"
                f" (pg_isready: {'accepting' if ready else 'NOT accepting'})"
            )
            progress(
                f"PostgreSQL {version} restarted in {took:.1f} s at"
                f" {len(scenario.received)} received"
            )
            _close_db()

        return run_scenario(scenario, disrupt, restart_after=None)
    finally:
        scenario.stop()
        _cleanup(scenario, progress)


def foreign_work() -> tuple[int, int, list[str]]:
    """Unsettled deliveries in this database that are not ours (bench leftovers were
    deleted by the setup): (deliveries, connections, a few URLs). The sweeper enqueues
    them too, so their endpoints' failures take worker time from ours."""
    from django.db.models import Count

    from webhooks.models import Delivery

    state = Delivery.State
    rows = Delivery.unscoped.filter(state__in=[state.PENDING, state.RETRYING, state.DELIVERING])
    count = rows.count()
    if not count:
        return 0, 0, []
    connections = rows.values("ordering_key").distinct().count()
    urls = rows.values_list("url").annotate(n=Count("pk")).order_by("-n")[:3]
    return count, connections, [f"{url} ({n})" for url, n in urls]


def purge_tasks_since(started: datetime) -> int:
    """Delete the delivery tasks enqueued since `started` and still queued: this run's
    (its producer, its sweeps, its clusters' schedule; the sweeper enqueues every
    connection with pending work, ours or not). Tasks signed with another key are not
    readable, so certainly not ours, and stay. Losing a queued task loses nothing: the
    Delivery rows are the truth and the next sweep enqueues again."""
    from django_q.conf import Conf
    from django_q.models import OrmQ
    from django_q.signing import BadSignature, SignedPackage

    from bench.db_setup import DELIVER_TASK, MAX_QUEUED

    ours = []
    queued = OrmQ.objects.filter(key=Conf.CLUSTER_NAME).only("pk", "payload")[:MAX_QUEUED]
    for row in queued:
        try:
            task = SignedPackage.loads(row.payload)
        except (BadSignature, ValueError, TypeError):
            continue
        if task.get("func") == DELIVER_TASK and task.get("started", started) >= started:
            ours.append(row.pk)
    deleted, _ = OrmQ.objects.filter(pk__in=ours).delete()
    return deleted


def _cleanup(scenario: Scenario, progress: Callable[[str], None]) -> None:
    """Delete this scenario's calls (connections, events, deliveries and attempts
    cascade) and the delivery tasks still queued for its connections: only ours."""
    from bench.db_setup import _purge_queued_deliveries
    from calls.models import Call

    def delete() -> tuple[int, int]:
        calls = [c.call_id for c in scenario.connections]
        deleted, _ = Call.unscoped.filter(pk__in=calls).delete()
        return deleted, _purge_queued_deliveries(set(scenario.ordering_keys), "")

    try:
        rows, tasks = db_call(delete)
    except DB_ERRORS as exc:
        progress(f"cleanup of {scenario.tag} failed: {exc}")
        return
    progress(f"{scenario.result.name}: deleted {rows} rows and {tasks} queued tasks")


# --- output -----------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def print_result(result: Result, disruption: str) -> None:
    print(report.heading(f"{result.name}: {disruption}"))
    states = ", ".join(f"{n} {state}" for state, n in sorted(result.states.items()))
    errors = ", ".join(f"{n} {name}" for name, n in sorted(result.emit_errors.items()))
    sweeps = result.sweeps
    rows = [
        ("events emitted (committed)", result.emitted),
        ("  producer rate", f"{result.emitted / max(result.produce_seconds, 1e-9):.0f}/s"),
        ("  emit retries (failed transaction)", result.emit_retries),
        ("  emit errors", errors or "none"),
        ("  committed, on-commit enqueue failed", result.enqueue_failures),
        ("events in the database", result.in_db),
        (
            "disruption when",
            f"{result.disrupted_at_received} received, {result.disrupted_at_emitted} emitted",
        ),
        ("left 'delivering' by the disruption", result.left_delivering),
        ("unique webhook-ids received", result.unique),
        ("duplicates (extra arrivals)", f"{result.duplicates} (of {result.duplicated_ids} ids)"),
        ("unexpected webhook-ids", result.unexpected),
        ("LOST", result.lost),
        ("time to full recovery", _seconds(result.recovery_seconds)),
        ("time until every row settled", _seconds(result.settled_seconds)),
        ("final Delivery states", states or "none"),
        ("deliveries with more than one recorded attempt", result.redelivered),
        (
            "sweeps: calls / released / connections re-enqueued",
            f"{sweeps['calls']} / {sweeps['released']} / {sweeps['connections']}",
        ),
    ]
    print(report.table(["", "value"], rows))
    notes = [
        "time to full recovery = last first-arrival of a webhook-id minus the moment of the"
        " disruption; every row settled = no Delivery left pending, delivering or retrying."
        " A POST a worker made just before it died is not recorded as an attempt, so its"
        " redelivery (a duplicate at the receiver) is the first recorded one.",
        *result.notes,
    ]
    for note in notes:
        print(textwrap.fill(note, width=100, initial_indent="- ", subsequent_indent="  "))


# --- main -------------------------------------------------------------------------------


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def _setup_django(env: dict[str, str]) -> None:
    global DB_ERRORS
    os.environ.clear()
    os.environ.update(env)
    django.setup()
    from django.db import InterfaceError, OperationalError

    DB_ERRORS = (OperationalError, InterfaceError)


def main() -> int:
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    started = time.monotonic()
    progress = _stamp(started)
    print(
        f"callauto crash proof: {EVENTS} events over {CONNECTIONS} connections at {RATE:.0f}/s,"
        f" qcluster (ORM broker, {Q_WORKERS} workers); database {_pg_address()[0]}:"
        f"{_pg_address()[1]}"
    )
    print(
        textwrap.fill(
            f"Recovery as in production: webhooks.delivery.sweep() (production: a django-q2"
            f" schedule every 60 s) is called from this script every {SWEEP_EVERY:.0f} s;"
            f" DELIVERY_TIMEOUT_SECONDS={DELIVERY_TIMEOUT_SECONDS} for the cluster and this"
            f" script, so a delivery a killed worker left 'delivering' is released after"
            f" {DELIVERY_TIMEOUT_SECONDS * 2 + 30} s.",
            width=100,
        )
    )
    version = None
    run_started: datetime | None = None
    results: list[tuple[Result, str]] = []
    with tempfile.TemporaryDirectory(prefix="callauto-crash-") as tmp:
        var_dir = Path(tmp)
        # The cluster logs go to CRASH_PROOF_LOG_DIR when set (kept), else the temp dir.
        log_dir = Path(os.environ.get("CRASH_PROOF_LOG_DIR") or tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        env = base_env(var_dir, free_port())
        env["DELIVERY_TIMEOUT_SECONDS"] = str(DELIVERY_TIMEOUT_SECONDS)
        receiver: TimestampingReceiver | None = None
        try:
            version = pg_version()
            if not pg_ready(5):
                raise BenchError("PostgreSQL is not accepting connections")
            progress("setting up the database: migrate, seed_demo")
            setup_database(env, "")
            _setup_django(env)
            run_started = _now()
            foreign, connections, urls = db_call(foreign_work)
            if foreign:
                print(
                    textwrap.fill(
                        f"warning: this database holds {foreign} unsettled deliveries of"
                        f" {connections} other connections (not the bench's: {', '.join(urls)})."
                        " The sweeper enqueues them too, and a worker waits out each first"
                        " retry (5 s) of a failing endpoint, so they slow or stall ours;"
                        " point BENCH_DATABASE_URL at a clean database for a fair proof.",
                        width=100,
                    ),
                    flush=True,
                )
            receiver = TimestampingReceiver()
            progress("scenario a: SIGKILL of the cluster mid-run")
            kill = scenario_kill(env, log_dir, receiver, progress)
            results.append(
                (
                    kill,
                    f"SIGKILL of the cluster's process group, restarted after"
                    f" {CLUSTER_DOWNTIME:.0f} s",
                )
            )
            print_result(*results[-1])
            if "b" in os.environ.get("CRASH_PROOF_SCENARIOS", "ab"):  # "a": a shared machine
                progress(f"scenario b: restart of PostgreSQL {version} mid-run")
                pg = scenario_postgres(env, log_dir, receiver, progress, version)
                results.append((pg, f"pg_ctlcluster {version} main restart mid-run"))
                print_result(*results[-1])
        except BenchError as exc:
            print(f"\ncrash proof failed: {exc}", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, SystemExit):
            print("\ncrash proof interrupted; stopping what it started", file=sys.stderr)
            raise
        finally:
            if receiver is not None:
                receiver.close()
            up = ensure_postgres(version, progress)
            progress(f"PostgreSQL {'is accepting connections' if up else 'is NOT running'}")
            if up and run_started is not None:
                with suppress(*DB_ERRORS):
                    purged = db_call(lambda: purge_tasks_since(run_started), seconds=10)
                    progress(f"deleted {purged} delivery tasks this run left queued")
    print("\nSummary")
    print(
        report.table(
            ["scenario", "emitted", "received", "duplicates", "lost", "recovery"],
            [
                (r.name, r.emitted, r.unique, r.duplicates, r.lost, _seconds(r.recovery_seconds))
                for r, _ in results
            ],
        )
    )
    print(f"\nWall time: {time.monotonic() - started:.0f} s")
    failed = [r.name for r, _ in results if r.lost or r.unexpected or not r.complete]
    if failed:
        print(f"NOT proven: {', '.join(failed)} (lost, unexpected or unsettled)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
