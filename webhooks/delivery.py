"""Durable delivery: at least once, in order per ordering key while healthy.

A worker claims a key's next pending delivery (one at a time per key, e.g. a call
connection, so order holds while the endpoint answers 2xx), POSTs
it through the SSRF guard, and records a DeliveryAttempt. Failures retry on a Svix-like
schedule with jitter (Retry-After is honoured); 410 Gone disables the endpoint; an
exhausted schedule or a forbidden URL makes the delivery dead, to be redelivered from
the portal or the API. The database is the truth: a sweeper re-enqueues whatever a lost
task or a killed worker left behind, so nothing is lost; receivers dedupe on
`webhook-id`, which is the same on every attempt.
"""

import functools
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from callauto import outbound
from tenants import audit
from tenants.audit import Actor
from tenants.models import Tenant
from webhooks import signing
from webhooks.models import Delivery, DeliveryAttempt, DisabledEndpoint, GridEvent

log = logging.getLogger(__name__)

D = Delivery.State
# Seconds to wait before each retry (Svix's schedule): the first attempt is immediate,
# then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; after the last failure the delivery dies.
SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]
MAX_DELAY = 36000
EXCERPT = 1024


@dataclass(frozen=True)
class Outcome:
    status: int | None = None
    error_class: str = ""
    excerpt: str = ""
    latency_ms: int = 0
    retry_after: float | None = None
    forbidden: bool = False  # the SSRF guard refused the URL: retrying cannot help

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def retry_delay(attempts: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next try after `attempts` failed ones; None when exhausted."""
    if attempts > len(SCHEDULE):
        return None
    delay = SCHEDULE[attempts - 1] * random.uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY))
    return delay


def timeout() -> httpx.Timeout:
    seconds = settings.DELIVERY_TIMEOUT_SECONDS
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


# --- delivering -----------------------------------------------------------------------


def deliver_key(
    ordering_key: str,
    *,
    inline_retry: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Deliver a key's pending messages in sequence order; return how many were sent.

    A retry due within `inline_retry` seconds (default DELIVERY_INLINE_RETRY_SECONDS, off
    unless configured) is waited for here; the others are left to the sweeper.
    """
    window = settings.DELIVERY_INLINE_RETRY_SECONDS if inline_retry is None else inline_retry
    sent = 0
    while (delivery := claim_next(ordering_key)) is not None:
        delay = record(delivery, send(http_client(), delivery))
        sent += 1
        if delay is None or delay > window:
            continue
        sleep(delay)
        Delivery.unscoped.filter(pk=delivery.pk, state=D.RETRYING).update(state=D.PENDING)
    return sent


@functools.cache
def http_client() -> httpx.Client:
    """One client per worker process: building one costs ~25 ms (TLS context), and
    keep-alive connections to a busy receiver are reused across tasks."""
    return httpx.Client(timeout=timeout(), follow_redirects=False)


def deliver_one(delivery_id: int) -> bool:
    """Deliver one message without an ordering key. True if it was sent."""
    claimed = Delivery.unscoped.filter(pk=delivery_id, state=D.PENDING).update(
        state=D.DELIVERING, claimed_at=timezone.now()
    )
    if not claimed:
        return False  # another worker has it, or it is done
    delivery = Delivery.unscoped.select_related("tenant").get(pk=delivery_id)
    if DisabledEndpoint.objects.for_tenant(delivery.tenant).filter(url=delivery.url).exists():
        _die(delivery, "The endpoint is disabled (it answered 410 Gone).")
        return False
    record(delivery, send(http_client(), delivery))
    return True


def claim_next(ordering_key: str) -> Delivery | None:
    """Take the key's next pending delivery, unless a worker is already on one of its.

    One UPDATE decides, so every condition is read from one snapshot: a concurrent claimer
    either sees the other's claim or picks the same row and loses the row lock's recheck
    (state is no longer pending). Two claimers can never hold two rows of one key.
    """
    from webhooks.batch import claim_lock  # batch builds on this module

    mine = Delivery.unscoped.filter(ordering_key=ordering_key)
    while True:
        first = mine.filter(state=D.PENDING).order_by("sequence", "pk").values("pk")[:1]
        busy = mine.filter(state=D.DELIVERING)
        token = timezone.now()
        with transaction.atomic():
            claim_lock()  # as the delivery loops' batch claims (webhooks/batch.py)
            claimed = (
                Delivery.unscoped.filter(pk=Subquery(first), state=D.PENDING)
                .filter(~Exists(busy.filter(ordering_key=OuterRef("ordering_key"))))
                .update(state=D.DELIVERING, claimed_at=token)
            )
        if not claimed:
            return None
        delivery = (
            mine.filter(state=D.DELIVERING, claimed_at=token).select_related("tenant").first()
        )
        if delivery is None:  # released by a sweep in between: start again
            continue
        if (
            not DisabledEndpoint.objects.for_tenant(delivery.tenant)
            .filter(url=delivery.url)
            .exists()
        ):
            return delivery
        _die(delivery, "The endpoint is disabled (it answered 410 Gone).")


def send(client: httpx.Client, delivery: Delivery) -> Outcome:
    """One POST of the delivery's payload (fresh signatures and timestamp each attempt)."""
    body = json.dumps([delivery.payload])
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {signing.bearer_token(delivery.tenant)}",
        **signing.webhook_headers(delivery.tenant, delivery.webhook_id, body),
    }
    started = time.monotonic()
    try:
        response = outbound.request(
            "POST", delivery.url, timeout=timeout(), client=client, content=body, headers=headers
        )
    except outbound.UnsafeUrl as exc:
        forbidden = not isinstance(exc, outbound.Unresolvable)
        return Outcome(error_class=type(exc).__name__, excerpt=str(exc), forbidden=forbidden)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Outcome(
            error_class=type(exc).__name__, excerpt=str(exc)[:EXCERPT],
            latency_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
    return Outcome(
        status=response.status_code,
        excerpt=excerpt_of(response.text),
        latency_ms=int((time.monotonic() - started) * 1000),
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def excerpt_of(text: str) -> str:
    """The start of an answer, as stored: PostgreSQL text cannot hold NUL (a receiver that
    sent one would make every record of that delivery fail, and the lease resend it)."""
    return text[:EXCERPT].replace("\x00", "\ufffd")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - timezone.now()).total_seconds(), 0.0) if when.tzinfo else None


@transaction.atomic
def record(delivery: Delivery, outcome: Outcome) -> float | None:
    """Store the attempt and the delivery's next state; return the retry delay, if any."""
    now = timezone.now()
    number = delivery.attempts + 1
    DeliveryAttempt.unscoped.create(
        tenant_id=delivery.tenant_id, delivery=delivery, number=number,
        started_at=now, latency_ms=outcome.latency_ms, status_code=outcome.status,
        error_class=outcome.error_class, response_excerpt=outcome.excerpt[:EXCERPT],
    )  # fmt: skip
    delivery.attempts = number
    delivery.last_status = outcome.status
    delivery.last_error = (outcome.error_class + ": " if outcome.error_class else "") + (
        "" if outcome.ok else outcome.excerpt[:300]
    )
    delay = None
    if outcome.ok:
        delivery.state, delivery.delivered_at = D.DELIVERED, now
    elif outcome.status == 410:
        _disable(delivery)
        delivery.state = D.DEAD
    elif outcome.forbidden:
        delivery.state = D.DEAD
    else:
        delay = retry_delay(number, outcome.retry_after)
        if delay is None:
            delivery.state = D.DEAD
        else:
            delivery.state, delivery.next_attempt_at = D.RETRYING, now + timedelta(seconds=delay)
    if delivery.state == D.DEAD:
        log.warning("callback %s to %s is dead: %s", delivery.webhook_id, delivery.url,
                    delivery.last_error or delivery.last_status)  # fmt: skip
    delivery.save(
        update_fields=["attempts", "state", "last_status", "last_error", "delivered_at",
                       "next_attempt_at"]
    )  # fmt: skip
    return delay


def _disable(delivery: Delivery) -> None:
    """410 Gone: stop sending to this URL for this tenant (re-enable from the portal)."""
    DisabledEndpoint.unscoped.get_or_create(
        tenant_id=delivery.tenant_id, url=delivery.url,
        defaults={"reason": "The endpoint answered 410 Gone."},
    )  # fmt: skip
    Delivery.unscoped.filter(
        tenant_id=delivery.tenant_id, url=delivery.url, state__in=[D.PENDING, D.RETRYING]
    ).exclude(pk=delivery.pk).update(state=D.DEAD, last_error="The endpoint is disabled (410).")


def _die(delivery: Delivery, reason: str) -> None:
    Delivery.unscoped.filter(pk=delivery.pk).update(state=D.DEAD, last_error=reason)


# --- the sweeper and redelivery -------------------------------------------------------


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Put lost and due work back in line; return counts. Safe to run any time, twice."""
    now = now or timezone.now()
    stuck_before = now - timedelta(seconds=settings.DELIVERY_TIMEOUT_SECONDS * 2 + 30)
    released = Delivery.unscoped.filter(state=D.DELIVERING, claimed_at__lt=stuck_before).update(
        state=D.PENDING, next_attempt_at=now
    )
    due = Delivery.unscoped.filter(state=D.RETRYING, next_attempt_at__lte=now).update(
        state=D.PENDING
    )
    # Only work that has waited a while: fresh pending rows have their task queued already,
    # and enqueueing them again on every sweep would grow the queue without bound.
    waiting = (
        Delivery.unscoped.filter(state=D.PENDING)
        .exclude(ordering_key="")
        .filter(
            Q(next_attempt_at__isnull=True, created_at__lt=now - timedelta(seconds=30))
            | Q(next_attempt_at__lte=now)
        )
    )
    busy = Delivery.unscoped.filter(state=D.DELIVERING).values("ordering_key")
    keys = list(
        waiting.exclude(ordering_key__in=busy).values_list("ordering_key", flat=True).distinct()
    )
    for key in keys:
        enqueue(key)
    loose = list(
        Delivery.unscoped.filter(state=D.PENDING, ordering_key="")
        .filter(
            Q(next_attempt_at__isnull=True, created_at__lt=now - timedelta(seconds=30))
            | Q(next_attempt_at__lte=now)
        )
        .values_list("pk", flat=True)
    )
    for pk in loose:
        enqueue_one(pk)
    grid = list(
        GridEvent.unscoped.filter(
            state=GridEvent.State.PENDING, created_at__lt=now - timedelta(seconds=30)
        ).values_list("pk", flat=True)
    )
    for pk in grid:
        from django_q.tasks import async_task

        async_task("webhooks.tasks.deliver_grid_event", pk, group="grid")
    return {
        "released": released,
        "due": due,
        "keys": len(keys),
        "loose": len(loose),
        "grid": len(grid),
    }


def enqueue(ordering_key: str) -> None:
    if settings.DELIVERY_LOOPS:
        return  # delivery loops find pending work themselves (NOTIFY or polling)
    from django_q.tasks import async_task

    async_task("webhooks.tasks.deliver_events", ordering_key, group="callbacks")


def enqueue_one(delivery_id: int) -> None:
    if settings.DELIVERY_LOOPS:
        return
    from django_q.tasks import async_task

    async_task("webhooks.tasks.deliver_one", delivery_id, group="callbacks")


@transaction.atomic
def redeliver(tenant: Tenant, delivery_id: int, *, actor: Actor) -> Delivery:
    """Send one event again (dead or delivered alike). Raises Delivery.DoesNotExist for
    another tenant's delivery."""
    delivery = Delivery.objects.for_tenant(tenant).select_for_update().get(pk=delivery_id)
    if delivery.state in (D.PENDING, D.DELIVERING):
        return delivery  # already on its way
    _requeue([delivery])
    audit.record(tenant, actor=actor, action="delivery.redeliver", target=delivery,
                 before={"state": delivery.state})  # fmt: skip
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def redeliver_dead_since(tenant: Tenant, since: datetime, *, actor: Actor) -> int:
    """Send again every dead delivery of the tenant created since `since`."""
    dead = list(
        Delivery.objects.for_tenant(tenant)
        .select_for_update()
        .filter(state=D.DEAD, created_at__gte=since)
    )
    _requeue(dead)
    if dead:
        audit.record(tenant, actor=actor, action="delivery.redeliver_dead", target=tenant,
                     after={"since": since.isoformat(), "count": len(dead)})  # fmt: skip
    return len(dead)


def _requeue(deliveries: list[Delivery]) -> None:
    ids = [d.pk for d in deliveries]
    Delivery.unscoped.filter(pk__in=ids).update(state=D.PENDING, next_attempt_at=None)
    for key in {d.ordering_key for d in deliveries if d.ordering_key}:
        transaction.on_commit(lambda k=key: enqueue(k))
    for loose in (d for d in deliveries if not d.ordering_key):
        transaction.on_commit(lambda pk=loose.pk: enqueue_one(pk))


@transaction.atomic
def enable_endpoint(tenant: Tenant, endpoint_id: int, *, actor: Actor) -> None:
    """Deliver to a disabled URL again. Raises DisabledEndpoint.DoesNotExist."""
    endpoint = DisabledEndpoint.objects.for_tenant(tenant).get(pk=endpoint_id)
    audit.record(tenant, actor=actor, action="endpoint.enable", target=endpoint,
                 before={"url": endpoint.url})  # fmt: skip
    endpoint.delete()
