"""The dispatcher: dials the recipients that are due, paced to the tenant's limits.

One `tick` places at most what this second allows (campaigns.pacing: calls per second and
concurrent calls shared with reminders, which yield to priority notifications). The
tenant row lock serializes ticks of one tenant across dispatchers; due recipients are
taken with SKIP LOCKED, and the Dial row of (recipient, round) is inserted in the same
transaction as the engine's call: a killed dispatcher leaves neither or both, and a
second one that reaches the same slot fails on the unique constraint instead of dialling.

Caller IDs: the notification's pool, round-robin (by the notification's dial count), a
number skipped while it has `per_number_concurrency` calls in flight.
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from callauto.errors import AcsError
from calls import call_verbs
from calls.identifiers import Identifier
from campaigns import pacing, quiet_hours
from notifications import services
from notifications.calling import callback_url
from notifications.models import Dial, Disposition, Notification, Recipient
from reminders.models import Suppression
from tenants.models import Tenant

log = logging.getLogger(__name__)
S = Notification.Status
R = Recipient.State
IN_FLIGHT = [Dial.State.DIALING, Dial.State.CONNECTED]
STALE_AFTER = timedelta(hours=2)
PACING_NAME = "notifications"
PRIORITY = 10  # ahead of reminders (campaigns.pacing)
OPT_OUTS = set(Suppression.Reason.values) - {Suppression.Reason.OTHER}


class _LimitReached(Exception):
    pass


def load(tenant: Tenant, now: datetime) -> pacing.Load:
    """Our share of the tenant's budget, and the priority work waiting (capped: it only
    needs to cover what one second can place)."""
    dials = Dial.objects.for_tenant(tenant)
    waiting = (
        Recipient.objects.for_tenant(tenant)
        .filter(
            next_attempt_at__lte=now, notification__status=S.RUNNING, notification__priority=True
        )
        .values("pk")[: max(tenant.calls_per_second, 1)]
    )
    return pacing.Load(
        in_flight=dials.filter(state__in=IN_FLIGHT).count(),
        last_second=dials.filter(dialed_at__gt=now - timedelta(seconds=1)).count(),
        waiting=len(waiting),
    )


def due_tenants(now: datetime) -> list[Tenant]:
    ids = (
        Recipient.unscoped.filter(
            next_attempt_at__lte=now,
            notification__status=S.RUNNING,
            tenant__status=Tenant.Status.ACTIVE,
        )
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    return list(Tenant.objects.filter(pk__in=list(ids)).order_by("pk"))


def tick(tenant: Tenant, now: datetime | None = None) -> int:
    """Place this second's share of the tenant's due calls; return how many were placed."""
    now = now or timezone.now()
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        # The time once the lock is ours: a call that ended while we waited for it is no
        # longer counted, so the new dials must not be stamped before that end.
        now = max(now, timezone.now())
        budget = pacing.budget(tenant, now, name=PACING_NAME)
        if budget <= 0:
            return 0
        due = list(
            Recipient.objects.for_tenant(tenant)
            .filter(next_attempt_at__lte=now, notification__status=S.RUNNING)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("notification")
            .order_by("-notification__priority", "next_attempt_at", "pk")[: budget * 2]
        )
        suppressed = dict(
            Suppression.objects.for_tenant(tenant)
            .filter(phone__in={r.phone for r in due})
            .values_list("phone", "reason")
        )
        busy = Counter(
            Dial.objects.for_tenant(tenant)
            .filter(state__in=IN_FLIGHT)
            .values_list("caller_id", flat=True)
        )
        pools: dict[int, _Pool] = {}
        placed = 0
        for recipient in due:
            if placed >= budget:
                break
            notification = recipient.notification
            if notification.pk not in pools:
                pools[notification.pk] = _Pool(notification, busy)
            try:
                placed += _dispatch(tenant, recipient, pools[notification.pk], now, suppressed)
            except _LimitReached:
                break
        return placed


class _Pool:
    """A notification's caller IDs in round-robin order, with the tenant's calls in flight
    per number (shared with the tick's other pools, so the per-number cap holds)."""

    def __init__(self, notification: Notification, busy: Counter) -> None:
        self.numbers = services.caller_pool(notification)
        self.cap = notification.per_number_concurrency
        self.busy = busy
        self.turn = Dial.unscoped.filter(notification=notification).count()

    def take(self) -> str | None:
        for step in range(len(self.numbers)):
            number = self.numbers[(self.turn + step) % len(self.numbers)]
            if self.busy[number] < self.cap:
                self.turn += step + 1
                self.busy[number] += 1
                return number
        return None

    def give_back(self, number: str) -> None:
        self.busy[number] -= 1


def _dispatch(
    tenant: Tenant, recipient: Recipient, pool: _Pool, now: datetime, suppressed: dict
) -> int:
    """Dial the recipient's round, or record why not. Returns 1 if a call was placed."""
    notification = recipient.notification
    expires = notification.expires_at
    if expires is not None and now >= expires:
        _expire(notification, now)
        return 0
    reason = suppressed.get(recipient.phone)
    if reason is not None and (reason in OPT_OUTS or not notification.life_safety):
        _skip(recipient, notification, Disposition.SUPPRESSED, now)
        return 0
    zone = ZoneInfo(recipient.time_zone)
    if not notification.life_safety and not quiet_hours.allowed(now, zone):
        recipient.next_attempt_at = quiet_hours.next_allowed(now, zone)
        recipient.save(update_fields=["next_attempt_at"])
        return 0
    number = pool.take()
    if number is None:
        return 0  # every number of the pool is at its cap: the next tick tries again
    try:
        with transaction.atomic():
            dial = Dial.unscoped.create(
                tenant=tenant,
                notification=notification,
                recipient=recipient,
                round=recipient.round,
                caller_id=number,
                dialed_at=now,
            )
            connection = call_verbs.create_call(
                tenant,
                targets=[Identifier.phone(recipient.phone)],
                callback_uri=callback_url(tenant, dial),
                source_caller_id=number,
                operation_context=f"notification:{dial.pk}",
            )
    except IntegrityError:
        log.info("round %s of recipient %s already dialled", recipient.round, recipient.pk)
        pool.give_back(number)
        recipient.next_attempt_at = None
        recipient.save(update_fields=["next_attempt_at"])
        return 0
    except call_verbs.TooManyCalls as exc:
        pool.give_back(number)
        raise _LimitReached from exc
    except AcsError as exc:
        pool.give_back(number)
        dial = Dial.unscoped.create(
            tenant=tenant,
            notification=notification,
            recipient=recipient,
            round=recipient.round,
            caller_id=number,
            dialed_at=now,
        )
        _calling(recipient)
        services.finish_dial(dial, Disposition.FAILED, now, detail=str(exc.detail))
        return 0
    dial.call_connection_id = connection.call_connection_id
    dial.save(update_fields=["call_connection_id"])
    _calling(recipient)
    return 1


def _calling(recipient: Recipient) -> None:
    recipient.state = R.CALLING
    recipient.next_attempt_at = None  # nothing more is due until this call ends
    recipient.dial_count += 1
    recipient.save(update_fields=["state", "next_attempt_at", "dial_count"])


def _skip(
    recipient: Recipient, notification: Notification, disposition: str, now: datetime
) -> None:
    recipient.round = notification.max_rounds  # no retry for a skip
    services.settle(recipient, notification, disposition, now)


def _expire(notification: Notification, now: datetime) -> None:
    Recipient.unscoped.filter(notification=notification, state=R.WAITING).update(
        state=R.DONE, disposition=Disposition.EXPIRED, next_attempt_at=None, finished_at=now
    )
    services.complete_if_done(notification, now)


def housekeeping(now: datetime) -> None:
    """Start scheduled notifications that are due, expire and complete running ones (a
    completion two calls ending at once both missed), end dials we never heard end."""
    for notification in Notification.unscoped.filter(status=S.SCHEDULED, scheduled_at__lte=now):
        with transaction.atomic():
            try:
                services.transition(notification, S.RUNNING, started_at=now)
            except services.InvalidTransition:
                continue
    for notification in Notification.unscoped.filter(status=S.RUNNING):
        with transaction.atomic():
            expires = notification.expires_at
            if expires is not None and now >= expires:
                _expire(notification, now)
            else:
                services.complete_if_done(notification, now)
    stale = Dial.unscoped.filter(state__in=IN_FLIGHT, dialed_at__lt=now - STALE_AFTER)
    for dial_id in list(stale.values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            dial = Dial.unscoped.select_for_update().get(pk=dial_id)
            if dial.state in IN_FLIGHT:
                services.finish_dial(dial, Disposition.FAILED, now, "No events arrived.")


def run(
    *,
    seconds: float = 50.0,
    tenant_id: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    stay: bool = False,
) -> int:
    """Dispatch for up to `seconds`, one tick per tenant per second, while work is due
    (`stay`: also while nothing is). `seconds=0` is one pass."""
    deadline = clock() + seconds
    placed = 0
    while True:
        started = clock()
        now = timezone.now()
        housekeeping(now)
        tenants = due_tenants(now)
        if tenant_id is not None:
            tenants = [t for t in tenants if t.pk == tenant_id]
        for tenant in tenants:
            placed += tick(tenant, now)
        if clock() + 1 > deadline:
            break
        if not stay and not tenants and not _calls_in_flight(tenant_id):
            break
        sleep(max(0.0, 1.0 - (clock() - started)))
    return placed


def _calls_in_flight(tenant_id: int | None) -> bool:
    """Retries become due while calls end: keep the run alive while any are in flight."""
    rows = Dial.unscoped.filter(state__in=IN_FLIGHT)
    return (rows.filter(tenant_id=tenant_id) if tenant_id else rows).exists()
