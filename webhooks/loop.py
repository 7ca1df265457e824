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

With lanes in flight and a lane free it waits in one select() on the database socket
(NOTIFY) and a pipe each lane writes to as it ends, so neither waits for a polling slice.
It claims only when a claim may find something (a NOTIFY, a lane ended, a poll ran out,
or the last claim filled every free lane): each claim is a round trip on the main thread,
which is what bounds a loop (issue 15), and webhooks/claims.py makes it one.

Several loops may run (in one or many processes): claims are serialised, so order per
connection holds. A loop that dies leaves its claimed rows to the sweeper (lease) and is
restarted by qcluster; any error just closes the database connection and tries again.
"""

import contextlib
import logging
import os
import select
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
        self._wake: tuple[int, int] | None = None  # run(): a lane's end writes a byte here
        # Whether a claim may find something: a NOTIFY came, a lane ended (its key may have
        # more), a poll ran out, or the last claim filled every free lane.
        self._dirty = True

    def stop(self, *args: object) -> None:
        """Finish the lanes in hand, then return from run() (safe in a signal handler)."""
        self.stopping.set()
        self._signal()

    def _signal(self) -> None:
        """A lane ended (or stop): wake the main thread at once, wherever it waits."""
        self._lane_ended.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):  # full (already signalled) or closed
                os.write(self._wake[1], b"x")

    def run(self) -> None:
        pool = self.pool or ThreadPoolExecutor(1, "delivery")
        self._wake = os.pipe()
        for fd in self._wake:
            os.set_blocking(fd, False)
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
            wake, self._wake = self._wake, None
            for fd in wake:
                os.close(fd)

    def pump(self, pool: ThreadPoolExecutor) -> int:
        """Record the lanes that ended, then claim rows for the free lanes and start them;
        return how many deliveries were recorded or started (0: wait). Recording and
        claiming are one round trip on PostgreSQL (batch.record_and_claim)."""
        self._prepare()
        ended = self._take_ended()
        recorded = len(ended.outcomes) + len(ended.unsent) if ended else 0
        now = time.monotonic()
        if now - self._promoted_at >= PROMOTE_EVERY:
            self._promoted_at = now
            if batch.promote_due_retries():
                self._dirty = True
        free = self.lanes - len(self._running)
        if free <= 0 or not self._dirty:
            if ended:
                batch.record_all(ended)
            return recorded
        rows = batch.record_and_claim(ended, self.batch_size, free)
        lanes = batch.lanes(rows)
        # Fewer lanes than were free: every claimable row is in hand (until something new).
        self._dirty = len(lanes) >= free
        if rows:
            sender = batch.Sender(self.client, rows, budget=batch.batch_budget())
            for lane in lanes:
                future = pool.submit(sender.run_lane, lane)
                self._running.add(future)
                future.add_done_callback(lambda _: self._signal())
        return recorded + len(rows)

    def _take_ended(self) -> batch.Sent | None:
        """The outcomes of the lanes that ended (to be recorded), or None."""
        ended = {future for future in self._running if future.done()}
        if not ended:
            return None
        self._running -= ended
        self._dirty = True  # an ended lane's key may have more rows waiting
        # A lane that raised (a bug) leaves its rows `delivering`: the sweeper's lease.
        for future in ended:
            if future.exception() is not None:
                log.error("delivery loop: a lane failed", exc_info=future.exception())
        return batch.merge(f.result() for f in ended if f.exception() is None)

    def _record_ended(self) -> int:
        sent = self._take_ended()
        if sent is None:
            return 0
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
        """Until a lane ends or, with a lane free, something may be pending: one select()
        on the database socket (NOTIFY) and the lanes' wake-up pipe, so either is seen at
        once (no polling slices)."""
        if not self._running:
            self.wait()
            return
        if len(self._running) >= self.lanes or connection.vendor != "postgresql":
            self._lane_ended.wait(self.poll)
            self._lane_ended.clear()
            self._drain_wake()
            if connection.vendor != "postgresql":
                self._dirty = True  # no NOTIFY here: a lane's end or the poll says claim
            return
        raw = connection.connection
        if raw is None:
            self._dirty = True
            return
        if self._lane_ended.is_set() or self._notified(raw):
            self._lane_ended.clear()
            self._drain_wake()
            return
        ready, _, _ = select.select([raw.fileno(), self._wake[0]], [], [], self.poll)
        self._lane_ended.clear()
        self._drain_wake()
        if self._notified(raw) or not ready:  # a NOTIFY, or the poll ran out: claim
            self._dirty = True

    def _notified(self, raw: object) -> bool:
        """Whether NOTIFYs came (read without waiting; one claim serves them all)."""
        if any(True for _ in raw.notifies(timeout=0)):
            self._dirty = True
            return True
        return False

    def _drain_wake(self) -> None:
        if self._wake is None:
            return
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake[0], 512):
                pass

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
        self._dirty = True  # a NOTIFY or the poll running out: claim either way
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
        self._dirty = True
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
