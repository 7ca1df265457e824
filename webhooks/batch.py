"""Delivering in batches: claim many, send on kept-alive connections, record in bulk.

The delivery loop (webhooks/loop.py) calls `claim`, `send_all` and `record_all` in turn.
The guarantees are those of webhooks.delivery, per batch instead of per message:

- Order per ordering key: a batch holds at most PER_KEY consecutive pending deliveries
  of a key, and only of keys with nothing in flight; they are sent in sequence order.
  Claims are serialised by one short lock (a PostgreSQL transaction-level advisory lock;
  SQLite's BEGIN IMMEDIATE is one already), so the claim statement runs on a snapshot
  taken after any other claim committed. `SKIP LOCKED` on rows would not do: a second
  claimer would skip a key's locked head and take its next row, sending it out of order.
- At least once: nothing is marked delivered before its POST was answered 2xx. No
  transaction is held across a POST. Rows claimed but never recorded (a killed worker)
  stay `delivering` until the sweeper's lease runs out and puts them back in line; rows
  claimed but not reached within the batch's time budget are put back at once.
- Every attempt is a DeliveryAttempt row, written with one INSERT per batch.
"""

import json
import time
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from callauto import outbound
from webhooks import claims
from webhooks import delivery as single
from webhooks.keyring import Keyring
from webhooks.models import Delivery, DeliveryAttempt, DisabledEndpoint

D = Delivery.State
CLAIM_LOCK = 0x63616C6C  # pg_advisory_xact_lock key of delivery claims ("call")
PER_KEY = 20  # consecutive deliveries of one ordering key per batch


def claim_lock() -> None:
    """Serialise claimers until the caller's transaction ends (see the module doc)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])


def _ranked_query(limit: int, per_key: int) -> QuerySet[Delivery]:
    """Pending rows of keys with nothing in flight, every key's first `per_key` in send
    order, keys interleaved (every key's first, then every key's second...: prefixes)."""
    busy = Delivery.unscoped.filter(state=D.DELIVERING).exclude(ordering_key="")
    ranked = (
        Delivery.unscoped.filter(state=D.PENDING)
        .exclude(ordering_key__in=busy.values("ordering_key"))
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("ordering_key")], order_by=[F("sequence"), F("pk")]
            )
        )
        .filter(rank__lte=per_key)
        .order_by("rank", "pk")
    )
    return ranked[:limit]


def claim(limit: int, per_key: int = PER_KEY, keys: int | None = None) -> list[Delivery]:
    """Take up to `limit` pending deliveries, in send order, of at most `keys` ordering
    keys (lanes: a loop with 3 idle lanes takes 3 keys' rows); one transaction. On
    PostgreSQL one round trip (webhooks/claims.py), which also reads the batch's signing
    secrets: `Sender` finds them on the rows (`row.secrets`) instead of a SELECT."""
    if connection.vendor == "postgresql":
        return _claim_pg(limit, per_key, keys or limit)
    with transaction.atomic():
        claim_lock()
        rows = list(_ranked_query(limit, per_key))
        if keys is not None:
            rows = _first_lanes(rows, keys)
        if not rows:
            return []
        token = timezone.now()
        ids = [row.pk for row in rows]
        taken = Delivery.unscoped.filter(pk__in=ids, state=D.PENDING).update(
            state=D.DELIVERING, claimed_at=token
        )
        if taken != len(rows):  # a row changed state since the read (e.g. a 410 killed it)
            mine = set(
                Delivery.unscoped.filter(pk__in=ids, state=D.DELIVERING, claimed_at=token)
                .values_list("pk", flat=True)
            )  # fmt: skip
            rows = [row for row in rows if row.pk in mine]
        disabled = set(
            DisabledEndpoint.unscoped.filter(url__in={row.url for row in rows})
            .values_list("tenant_id", "url")
        )  # fmt: skip
        if disabled:
            dead = [row for row in rows if (row.tenant_id, row.url) in disabled]
            Delivery.unscoped.filter(pk__in=[row.pk for row in dead]).update(
                state=D.DEAD, last_error="The endpoint is disabled (it answered 410 Gone)."
            )
            rows = [row for row in rows if (row.tenant_id, row.url) not in disabled]
    for row in rows:
        row.state, row.claimed_at = D.DELIVERING, token
    return rows


def record_and_claim(sent: "Sent | None", limit: int, keys: int) -> list[Delivery]:
    """`record_all(sent)`, then `claim(limit, keys=keys)`. On PostgreSQL, when every
    outcome is a 2xx (or was not sent), both go in one round trip; a failure is recorded
    first, on its own, as before (a 410 must disable its URL before the next claim)."""
    if connection.vendor != "postgresql" or (sent and any(not o.ok for _, o in sent.outcomes)):
        if sent:
            record_all(sent)
        return claim(limit, keys=keys)
    before = None
    if sent:
        before = claims.record_ok_statement(
            _ok_rows(sent.outcomes), [row.pk for row in sent.unsent], timezone.now()
        )
    return _claim_pg(limit, PER_KEY, keys, before)


def _claim_pg(
    limit: int, per_key: int, keys: int, before: tuple[str, list] | None = None
) -> list[Delivery]:
    """The PostgreSQL claim (webhooks/claims.py), each row carrying its tenant's secrets."""
    rows, secrets = claims.claim(
        lock=CLAIM_LOCK, limit=limit, per_key=per_key, keys=keys, token=timezone.now(),
        before=before,
    )  # fmt: skip
    for row in rows:
        row.secrets = secrets[row.tenant_id]
    return rows


def _ok_rows(outcomes: list) -> list[tuple[Delivery, int, int, str]]:
    """The 2xx outcomes as claims.record_ok_statement takes them."""
    return [
        (row, o.status, o.latency_ms, o.excerpt[: single.EXCERPT]) for row, o in outcomes if o.ok
    ]


def lane_of(row: Delivery) -> str:
    """A delivery's lane: its ordering key (sent in order), or its own if it has none."""
    return row.ordering_key or f"#{row.pk}"


def _first_lanes(rows: list[Delivery], keys: int) -> list[Delivery]:
    """The rows of the first `keys` lanes met (ranked rows: every lane's head first)."""
    chosen: set[str] = set()
    kept = []
    for row in rows:
        lane = lane_of(row)
        if lane not in chosen:
            if len(chosen) >= keys:
                continue
            chosen.add(lane)
        kept.append(row)
    return kept


def lanes(rows: list[Delivery]) -> list[list[Delivery]]:
    """Claimed rows by lane, each lane in send order."""
    grouped: dict[str, list[Delivery]] = {}
    for row in rows:
        grouped.setdefault(lane_of(row), []).append(row)
    return list(grouped.values())


@dataclass
class Sent:
    """What happened to a claimed batch: outcomes in send order, and what was not tried."""

    outcomes: list[tuple[Delivery, single.Outcome]] = field(default_factory=list)
    unsent: list[Delivery] = field(default_factory=list)


class Sender:
    """Sends the lanes of one claim: the claim's signing keys, SSRF pins and 410 verdicts
    are shared by its lanes, which may run on several threads (no database work here)."""

    def __init__(self, client: httpx.Client, rows: list[Delivery], *, budget: float) -> None:
        self.client = client
        tenants = {row.tenant_id for row in rows}
        found = {row.tenant_id: row.secrets for row in rows if hasattr(row, "secrets")}
        self.keyring = Keyring(tenants, found if found.keys() == tenants else None)
        self.pins: dict[str, tuple[str, dict, dict] | outbound.UnsafeUrl] = {}
        self.gone: set[tuple[int, str]] = set()  # answered 410: nothing more goes there
        self.stop_at = time.monotonic() + budget

    def run_lane(self, lane: list[Delivery]) -> Sent:
        """POST one lane in order; past the budget or a 410 the rest is returned unsent."""
        done = Sent()
        for row in lane:
            if time.monotonic() > self.stop_at or (row.tenant_id, row.url) in self.gone:
                done.unsent.append(row)
                continue
            outcome = send(self.client, row, self.keyring, self.pins)
            done.outcomes.append((row, outcome))
            if outcome.status == 410:
                self.gone.add((row.tenant_id, row.url))
        return done


def merge(parts: Iterable[Sent]) -> Sent:
    sent = Sent()
    for part in parts:
        sent.outcomes += part.outcomes
        sent.unsent += part.unsent
    return sent


def send_all(
    client: httpx.Client, rows: list[Delivery], *, budget: float, pool: Executor | None = None
) -> Sent:
    """POST the claimed deliveries: each ordering key's in order, in one lane; lanes side by
    side on `pool` (one slow receiver then holds up its own lane, not the batch). Stop
    starting POSTs after `budget` seconds, and skip a URL once it answered 410 Gone: those
    are returned unsent."""
    sender = Sender(client, rows, budget=budget)
    mapper = pool.map if pool else map
    return merge(mapper(sender.run_lane, lanes(rows)))


def send(client: httpx.Client, row: Delivery, keyring: Keyring, pins: dict) -> single.Outcome:
    """One POST, as webhooks.delivery.send, with the batch's keys and vetted addresses."""
    if row.url not in pins:  # the SSRF guard resolves and vets each URL once per batch
        try:
            pins[row.url] = outbound.pin(row.url)
        except outbound.UnsafeUrl as exc:
            pins[row.url] = exc
    pinned = pins[row.url]
    if isinstance(pinned, outbound.UnsafeUrl):
        forbidden = not isinstance(pinned, outbound.Unresolvable)
        return single.Outcome(
            error_class=type(pinned).__name__, excerpt=str(pinned), forbidden=forbidden
        )
    url, host_header, extensions = pinned
    body = json.dumps([row.payload])
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {keyring.bearer(row.tenant_id)}",
        **keyring.webhook_headers(row.tenant_id, row.webhook_id, body),
        **host_header,
    }
    started = time.monotonic()
    try:
        response = client.post(
            url, content=body, headers=headers, extensions=extensions,
            timeout=single.timeout(), follow_redirects=False,
        )  # fmt: skip
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return single.Outcome(
            error_class=type(exc).__name__, excerpt=str(exc)[: single.EXCERPT],
            latency_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
    return single.Outcome(
        status=response.status_code,
        excerpt=single.excerpt_of(response.text),
        latency_ms=int((time.monotonic() - started) * 1000),
        retry_after=single._retry_after(response.headers.get("Retry-After")),
    )


def record_all(sent: Sent) -> None:
    """Store every attempt and each delivery's next state; put back what was not sent.

    2xx answers and what was not sent are written in bulk (PostgreSQL: one statement,
    webhooks/claims.py; SQLite: one INSERT, one UPDATE per status code, in a transaction);
    then failures go through webhooks.delivery.record (a transaction each), which owns the
    retry schedule, 410 and dead letters.
    """
    now = timezone.now()
    # Before the failures: a 410's record kills what is pending for its URL.
    if connection.vendor == "postgresql":
        claims.record_ok(_ok_rows(sent.outcomes), [row.pk for row in sent.unsent], now)
    else:
        ok = [(row, outcome) for row, outcome in sent.outcomes if outcome.ok]
        _record_bulk(ok, sent.unsent, now)
    for row, outcome in sent.outcomes:
        if not outcome.ok:
            single.record(row, outcome)


@transaction.atomic
def _record_bulk(ok: list, unsent_rows: list[Delivery], now: object) -> None:
    attempts = [
        DeliveryAttempt(
            tenant_id=row.tenant_id,
            delivery_id=row.pk,
            number=row.attempts + 1,
            started_at=now,
            latency_ms=outcome.latency_ms,
            status_code=outcome.status,
            response_excerpt=outcome.excerpt[: single.EXCERPT],
        )
        for row, outcome in ok
    ]
    DeliveryAttempt.unscoped.bulk_create(attempts)
    by_status: dict[int, list[int]] = {}
    for row, outcome in ok:
        by_status.setdefault(outcome.status, []).append(row.pk)
    for status, ids in by_status.items():
        Delivery.unscoped.filter(pk__in=ids).update(
            state=D.DELIVERED, delivered_at=now, attempts=F("attempts") + 1,
            last_status=status, last_error="",
        )  # fmt: skip
    if unsent_rows:
        unsent = [row.pk for row in unsent_rows]
        Delivery.unscoped.filter(pk__in=unsent, state=D.DELIVERING).update(state=D.PENDING)


def promote_due_retries() -> int:
    """Retries whose time has come are pending again (the sweeper does it each minute;
    a loop does it every second so a 5-second retry is not a minute late)."""
    return Delivery.unscoped.filter(state=D.RETRYING, next_attempt_at__lte=timezone.now()).update(
        state=D.PENDING
    )


def batch_budget() -> float:
    """Seconds a batch may go on starting POSTs. With one POST's timeout on top, a batch
    ends well inside the sweeper's lease on claimed rows (2 x timeout + 30 s)."""
    return settings.DELIVERY_BATCH_SECONDS
