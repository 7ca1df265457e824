"""The delivery loop: one long-lived process that sends every pending callback.

`manage.py qcluster` starts DELIVERY_LOOPS of them beside django-q2's workers (see
WORKER_SERVICES in settings). One django-q2 task per event cost a dequeue, a claim
transaction, a result save and a new look at the keys for each callback; a loop claims
batches (webhooks/batch.py), keeps its HTTP connections alive between them and records
outcomes in bulk; POSTs of different connections go out DELIVERY_CONCURRENCY at a time
from a thread pool (each connection's in order). When there is nothing to send it waits:

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
from concurrent.futures import ThreadPoolExecutor

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
        lanes = settings.DELIVERY_CONCURRENCY
        self.pool = ThreadPoolExecutor(lanes, "delivery") if lanes > 1 else None
        self._listening = False
        self._promoted_at = 0.0

    def stop(self, *args: object) -> None:
        """Finish the batch in hand, then return from run() (safe in a signal handler)."""
        self.stopping.set()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    if not self.step():
                        self.wait()
                except Exception:  # a loop must outlive any one failure
                    log.exception("delivery loop: error, retrying in %.0f s", BACKOFF)
                    self._reset()
                    time.sleep(BACKOFF)
        finally:
            if self.pool is not None:
                self.pool.shutdown()
            self.client.close()
            self._reset()

    def step(self) -> int:
        """Claim, send and record one batch; return how many deliveries it held."""
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
        if not self._listening:
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self._listening = True
            return  # something may have been published before we listened: claim first
        raw = connection.connection
        for _ in raw.notifies(timeout=self.poll, stop_after=1):
            pass
        # Several publishes make several notifications: one claim serves them all.
        for _ in raw.notifies(timeout=0):
            pass

    def _reset(self) -> None:
        self._listening = False
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
