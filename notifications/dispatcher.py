"""The dispatcher: dials the recipients that are due, paced to the tenant's limits.

One `tick` places at most what this second allows (campaigns.pacing: calls per second and
concurrent calls shared with reminders, which yield to priority notifications). The
tenant row lock serializes ticks of one tenant across dispatchers; due recipients are
taken with SKIP LOCKED, and the Dial rows of (recipient, round) are inserted in the same
transaction as the engine's calls: a killed dispatcher leaves neither or both, and a
slot that already has its dial is not claimed again (unique constraint, ON CONFLICT DO
NOTHING) instead of dialling twice.

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
from django.db.models import F
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
TICK_SECONDS = 0.1  # how often a due tenant's budget is looked at (see run)
OPT_OUTS = set(Suppression.Reason.values) - {Suppression.Reason.OTHER}


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
        in_flight=dials.filter(state__in=IN_FLIGHT).values("pk"),
        last_second=dials.filter(dialed_at__gt=now - timedelta(seconds=1)).values("pk"),
        waiting=waiting,
    )


def due_tenants(now: datetime) -> list[Tenant]:
    # From the running notifications (a few), each asked whether one recipient is due (an
    # index probe of recipient_due_in_order): a DISTINCT over the due recipients sorted
    # all 10,000 of a launch every second (84 ms), a semi-join scanned them (13 ms).
    running = Notification.unscoped.filter(
        status=S.RUNNING, tenant__status=Tenant.Status.ACTIVE
    ).values_list("pk", "tenant_id")
    ids = {
        tenant_id
        for pk, tenant_id in running.order_by()
        if Recipient.unscoped.filter(
            tenant_id=tenant_id, notification_id=pk, next_attempt_at__lte=now
        ).exists()
    }
    return list(Tenant.objects.filter(pk__in=ids).order_by("pk"))


def tick(tenant: Tenant, now: datetime | None = None) -> int:
    """Place this second's share of the tenant's due calls; return how many were placed.

    Inside the tenant's dialling turn (campaigns.pacing.turn): the due rows, their
    suppressions and the numbers in flight are read once (a fixed number of statements
    whatever the batch, tests/notifications/test_scale.py); then each call is placed in a
    short transaction of its own (`_place_one`), so the engine's live-call counter row,
    which create_call locks until its commit, is never held across the tick's other
    calls (it made every ending call and hang-up of the tenant wait for whole ticks)."""
    now = now or timezone.now()
    if pacing.still_full(tenant, now, name=PACING_NAME):
        return 0  # every concurrent call is in flight: nothing to place, no turn taken
    with pacing.turn(tenant, name=PACING_NAME) as tenant:
        if tenant is None:  # another of our dispatchers is placing them
            return 0
        budget = pacing.budget(tenant, max(now, timezone.now()), name=PACING_NAME)
        if budget <= 0:
            return 0
        # The time once the budget was counted: a call whose end committed before those
        # counts ran is no longer counted, so the new dials must not be stamped before that
        # end (its handler stamps the end before it commits). Stamped earlier, a dial could
        # overlap the end it replaced: 501 of 500 in the bench's concurrency figure.
        now = max(now, timezone.now())
        due = _due(tenant, now, budget * 2)
        if not due:
            return 0
        placed = 0
        for recipient, number in _plan(tenant, due, budget, now):
            try:
                placed += _place_one(tenant, recipient, number, now)
            except call_verbs.TooManyCalls:
                break  # the tenant's limit: this recipient and the rest stay due
        return placed


def _due(tenant: Tenant, now: datetime, limit: int) -> list[Recipient]:
    """Up to `limit` due recipients (read without locks: each is taken in its own
    transaction by `_place_one`), priority notifications' first, then by due time. One
    query per priority level over the running notifications' ids, not a join ordered by
    the notification's priority: that sorted every due row of a 10,000-household launch
    on each tick (EXPLAIN: 87 ms), this reads the index recipient_due_in_order up to the
    LIMIT."""
    levels: dict[bool, list[int]] = {}
    running = Notification.objects.for_tenant(tenant).filter(status=S.RUNNING)
    for pk, priority in running.order_by("-priority", "pk").values_list("pk", "priority"):
        levels.setdefault(priority, []).append(pk)
    due: list[Recipient] = []
    for ids in levels.values():
        if len(due) >= limit:
            break
        due += list(
            Recipient.objects.for_tenant(tenant)
            .filter(next_attempt_at__lte=now, notification_id__in=ids)
            .select_related("notification")
            .order_by("next_attempt_at", "pk")[: limit - len(due)]
        )
    return due


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


def _plan(
    tenant: Tenant, due: list[Recipient], budget: int, now: datetime
) -> list[tuple[Recipient, str]]:
    """Who to dial now and from which number (at most `budget`); expiry, suppressions and
    quiet hours are settled here, the deferrals in one UPDATE."""
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
    expired: set[int] = set()
    deferred: list[Recipient] = []
    planned: list[tuple[Recipient, str]] = []
    for recipient in due:
        if len(planned) >= budget:
            break
        notification = recipient.notification
        if notification.pk in expired:
            continue
        expires = notification.expires_at
        if expires is not None and now >= expires:
            expired.add(notification.pk)
            _expire(notification, now)
            continue
        reason = suppressed.get(recipient.phone)
        if reason is not None and (reason in OPT_OUTS or not notification.life_safety):
            _skip(recipient, notification, Disposition.SUPPRESSED, now)  # rare: one by one
            continue
        zone = ZoneInfo(recipient.time_zone)
        if not notification.life_safety and not quiet_hours.allowed(now, zone):
            recipient.next_attempt_at = quiet_hours.next_allowed(now, zone)
            deferred.append(recipient)
            continue
        if notification.pk not in pools:
            pools[notification.pk] = _Pool(notification, busy)
        number = pools[notification.pk].take()
        if number is None:
            continue  # every number of the pool is at its cap: the next tick tries again
        planned.append((recipient, number))
    if deferred:
        Recipient.unscoped.bulk_update(deferred, ["next_attempt_at"])
    return planned


def _take(recipient: Recipient) -> bool:
    """Take the recipient's due round for this transaction: one guarded UPDATE (calling,
    nothing due until the call ends) that holds the row until the commit. False if the
    row changed since the tick read it (a cancel, a round settled meanwhile)."""
    return bool(
        Recipient.unscoped.filter(
            pk=recipient.pk,
            state=R.WAITING,
            round=recipient.round,
            next_attempt_at=recipient.next_attempt_at,
        ).update(state=R.CALLING, next_attempt_at=None, dial_count=F("dial_count") + 1)
    )


def _place_one(tenant: Tenant, recipient: Recipient, number: str, now: datetime) -> int:
    """Dial the recipient's round in one transaction: the round taken, its Dial row (unique
    per recipient and round) and the engine's call commit together or not at all, so a
    killed dispatcher leaves neither or both. Returns 1 if a call was placed. A round
    that already has its dial is no longer due; one the engine refused ends `failed`
    (retried like any failed call); TooManyCalls (the tenant's limit) is raised with
    nothing written."""
    dial = Dial(
        tenant=tenant,
        notification=recipient.notification,
        recipient=recipient,
        round=recipient.round,
        caller_id=number,
        dialed_at=now,
    )
    try:
        with transaction.atomic():
            if not _take(recipient):
                return 0
            dial.save(force_insert=True)
            connection = call_verbs.create_call(
                tenant,
                targets=[Identifier.phone(recipient.phone)],
                callback_uri=callback_url(tenant, dial),
                source_caller_id=dial.caller_id,
                operation_context=f"notification:{dial.pk}",
            )
            Dial.unscoped.filter(pk=dial.pk).update(
                call_connection_id=connection.call_connection_id
            )
            return 1
    except IntegrityError:
        log.info("round %s of recipient %s already dialled", recipient.round, recipient.pk)
        Recipient.unscoped.filter(pk=recipient.pk).update(next_attempt_at=None)
        return 0
    except call_verbs.TooManyCalls:
        raise
    except AcsError as exc:  # rare: the engine refused this one call
        dial.pk = None
        with transaction.atomic():
            if _take(recipient):
                dial.save(force_insert=True)
                services.finish_dial(dial, Disposition.FAILED, now, detail=str(exc.detail))
        return 0


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
    """Dispatch for up to `seconds` while work is due (`stay`: also while nothing is).
    Housekeeping and the list of due tenants once a second; each due tenant ticks every
    TICK_SECONDS, so its budget is used again as soon as last second's dials age out
    (one tick a second would dial CPS calls per second *plus* each pass's own time, and
    keep below the configured rate). `seconds=0` is one pass."""
    deadline = clock() + seconds
    placed = 0
    tenants: list[Tenant] = []
    next_housekeeping = clock()
    while True:
        started = clock()
        now = timezone.now()
        housekept = started >= next_housekeeping
        if housekept:
            next_housekeeping = started + 1.0
            housekeeping(now)
            tenants = due_tenants(now)
            if tenant_id is not None:
                tenants = [t for t in tenants if t.pk == tenant_id]
        for tenant in tenants:
            placed += tick(tenant, now)
        if clock() + TICK_SECONDS > deadline:
            break
        if housekept and not stay and not tenants and not _calls_in_flight(tenant_id):
            break
        sleep(max(0.0, TICK_SECONDS - (clock() - started)))
    return placed


def _calls_in_flight(tenant_id: int | None) -> bool:
    """Retries become due while calls end: keep the run alive while any are in flight."""
    rows = Dial.unscoped.filter(state__in=IN_FLIGHT)
    return (rows.filter(tenant_id=tenant_id) if tenant_id else rows).exists()
