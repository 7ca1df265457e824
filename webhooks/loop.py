"""The delivery loop: one long-lived process that sends every pending callback.

`manage.py qcluster` starts DELIVERY_LOOPS of them beside django-q2's workers (see
WORKER_SERVICES in settings). One django-q2 task per event cost a dequeue, a claim
transaction, a result save and a new look at the keys for each callback; a loop claims
batches (webhooks/batch.py), keeps its HTTP connections alive between them and records
outcomes in bulk; POSTs of different connections go out DELIVERY_CONCURRENCY at a time
from a thread pool (each connection's in order, in one lane).

`run()` is pipelined: whenever a lane is free it claims the next connections' rows and
starts them, and it records each lane as soon as it ends. A batch barrier (claim, send
everything, record, claim again) made every callback wait for the slowest POST of its
batch, and a call's next event for the whole batch after that: with a campaign's
hundreds of calls each step of every call took seconds. `step()` is one barrier round
(tests, and the task path's shape). When there is nothing to send it waits:

- on PostgreSQL for a NOTIFY on `callauto_deliveries`, sent by a trigger on every INSERT
  into the outbox (webhooks migration 0002), or DELIVERY_POLL_SECONDS at most;
- on SQLite (no NOTIFY) it polls every DELIVERY_POLL_SECONDS.

Several loops may run (in one or many processes): claims are serialised, so order per
connection holds. A loop that dies leaves its claimed rows to the sweeper (lease) and is
restarted by qcluster; any error just closes the database connection and tries again.
"""

import logging
import signal
import threading
import time
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
from django.conf import settings
from django.db import close_old_connections, connection, connections

from webhooks import batch
from webhooks import delivery as single

log = logging.getLogger(__name__)

CHANNEL = "callauto_deliveries"
PROMOTE_EVERY = 1.0  # seconds between looks for retries that are due
BACKOFF = 1.0  # seconds to wait after an error (database restarting, ...)
LANE_CHECK = 0.01  # seconds between looks for an ended lane while waiting for a NOTIFY


def new_client() -> httpx.Client:
    """Kept-alive connections, pooled per origin (httpx keeps one pool per host:port)."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    return httpx.Client(timeout=single.timeout(), follow_redirects=False, limits=limits)


class DeliveryLoop:
    def __init__(
        self,
        *,
        batch_size: int | None = None,
        poll: float | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.batch_size = batch_size or settings.DELIVERY_BATCH_SIZE
        self.poll = settings.DELIVERY_POLL_SECONDS if poll is None else poll
        self.stopping = stopping or threading.Event()
        self.client = new_client()
        # POSTs of different connections go out side by side (no database work in them).
        self.lanes = max(1, settings.DELIVERY_CONCURRENCY)
        self.pool = ThreadPoolExecutor(self.lanes, "delivery") if self.lanes > 1 else None
        self._session: object = None  # the psycopg connection _prepare() set up
        self._promoted_at = 0.0
        self._running: set[Future] = set()  # lanes being sent (run() only)
        self._lane_ended = threading.Event()

    def stop(self, *args: object) -> None:
        """Finish the lanes in hand, then return from run() (safe in a signal handler)."""
        self.stopping.set()
        self._lane_ended.set()

    def run(self) -> None:
        pool = self.pool or ThreadPoolExecutor(1, "delivery")
        try:
            while not self.stopping.is_set():
                try:
                    if not self.pump(pool):
                        self.wait_pipelined()
                except Exception:  # a loop must outlive any one failure
                    log.exception("delivery loop: error, retrying in %.0f s", BACKOFF)
                    self._reset()
                    time.sleep(BACKOFF)
        finally:
            self._settle()
            pool.shutdown()
            self.client.close()
            self._reset()

    def pump(self, pool: ThreadPoolExecutor) -> int:
        """Record the lanes that ended, then claim rows for the free lanes and start them;
        return how many deliveries were recorded or started (0: wait)."""
        self._prepare()
        recorded = self._record_ended()
        now = time.monotonic()
        if now - self._promoted_at >= PROMOTE_EVERY:
            self._promoted_at = now
            batch.promote_due_retries()
        free = self.lanes - len(self._running)
        if free <= 0:
            return recorded
        rows = batch.claim(self.batch_size, keys=free)
        if rows:
            sender = batch.Sender(self.client, rows, budget=batch.batch_budget())
            for lane in batch.lanes(rows):
                future = pool.submit(sender.run_lane, lane)
                self._running.add(future)
                future.add_done_callback(lambda _: self._lane_ended.set())
        return recorded + len(rows)

    def _record_ended(self) -> int:
        ended = {future for future in self._running if future.done()}
        if not ended:
            return 0
        self._running -= ended
        # A lane that raised (a bug) leaves its rows `delivering`: the sweeper's lease.
        for future in ended:
            if future.exception() is not None:
                log.error("delivery loop: a lane failed", exc_info=future.exception())
        sent = batch.merge(f.result() for f in ended if f.exception() is None)
        batch.record_all(sent)
        return len(sent.outcomes) + len(sent.unsent)

    def _settle(self) -> None:
        """On the way out: let the lanes in flight end and record them (else the lease)."""
        if not self._running:
            return
        # A lane ends within one POST's timeout (httpx.Timeout is not a number).
        futures.wait(self._running, timeout=settings.DELIVERY_TIMEOUT_SECONDS + 1)
        try:
            self._record_ended()
        except Exception:
            log.exception("delivery loop: recording the last lanes failed (lease applies)")

    def wait_pipelined(self) -> None:
        """Until a lane ends or, with a lane free, something may be pending."""
        if not self._running:
            self.wait()
            return
        if len(self._running) >= self.lanes or connection.vendor != "postgresql":
            self._lane_ended.wait(self.poll)
            self._lane_ended.clear()
            return
        raw = connection.connection
        deadline = time.monotonic() + self.poll
        while not self._lane_ended.is_set() and time.monotonic() < deadline:
            # Short NOTIFY waits, so a lane's end is seen within LANE_CHECK seconds.
            if raw is None or any(True for _ in raw.notifies(timeout=LANE_CHECK, stop_after=1)):
                if raw is not None:
                    for _ in raw.notifies(timeout=0):  # one claim serves them all
                        pass
                break
        self._lane_ended.clear()

    def step(self) -> int:
        """Claim, send and record one batch; return how many deliveries it held."""
        self._prepare()
        now = time.monotonic()
        if now - self._promoted_at >= PROMOTE_EVERY:
            self._promoted_at = now
            batch.promote_due_retries()
        rows = batch.claim(self.batch_size)
        if rows:
            sent = batch.send_all(self.client, rows, budget=batch.batch_budget(), pool=self.pool)
            batch.record_all(sent)
        return len(rows)

    def wait(self) -> None:
        """Until something may be pending: a NOTIFY (PostgreSQL) or the poll interval."""
        if connection.vendor != "postgresql":
            time.sleep(self.poll)
            return
        raw = connection.connection
        if raw is None or raw is not self._session:
            return  # a new connection: step() listens first, then claims
        for _ in raw.notifies(timeout=self.poll, stop_after=1):
            pass
        # Several publishes make several notifications: one claim serves them all.
        for _ in raw.notifies(timeout=0):
            pass

    def _prepare(self) -> None:
        """On a new PostgreSQL connection: LISTEN (before the claim that follows, so no
        publish falls between the two), and commit without waiting for the WAL flush. That
        is safe here: a claim or a record lost in a database crash only means a callback
        sent again, which at-least-once allows (receivers dedupe on webhook-id)."""
        if connection.vendor != "postgresql":
            return
        connection.ensure_connection()
        if connection.connection is self._session:
            return
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
            cursor.execute("SET synchronous_commit TO off")
        self._session = connection.connection

    def _reset(self) -> None:
        self._session = None
        connections.close_all()


def run() -> None:
    """A delivery loop process until SIGTERM / SIGINT (started by `manage.py qcluster`)."""
    # Handlers first: until then this forked process has qcluster's, which ignore a stop.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    loop = DeliveryLoop(stopping=stopping)
    close_old_connections()
    log.info("delivery loop: started")
    loop.run()
    log.info("delivery loop: stopped")
