"""The dispatcher: places the reminder calls that are due, paced to the tenant's limits.

One `tick` places at most what this second allows: calls-per-second minus the calls
dialled in the last second, and max-concurrent minus our calls in flight. The tenant row
lock serializes ticks of one tenant across dispatchers, so the counts are exact; due rows
are taken with SKIP LOCKED, and the unique (appointment, reminder index, attempt number)
constraint makes a slot dial once even if two dispatchers or a re-issued task reach it.
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from callauto.errors import AcsError
from calls import call_verbs
from calls.identifiers import Identifier
from campaigns import pacing
from reminders import windows
from reminders.calling import callback_url
from reminders.models import Appointment, Attempt, Disposition, Suppression
from reminders.services import finish_attempt
from tenants.models import Tenant

log = logging.getLogger(__name__)
A = Attempt.State
IN_FLIGHT = [A.DIALING, A.CONNECTED]
# An attempt we never heard the end of (its events were lost for good) stops counting
# against the concurrency limit after this long.
STALE_AFTER = timedelta(hours=2)
TICK_SECONDS = 0.1  # how often a due tenant's budget is looked at (see run)


class _LimitReached(Exception):
    pass


PACING_NAME = "reminders"
PRIORITY = 0  # reminders yield to notifications (campaigns.pacing)


def load(tenant: Tenant, now: datetime) -> pacing.Load:
    """Our share of the tenant's budget in use; nothing yields to reminders, so what is
    waiting is not counted."""
    mine = Attempt.objects.for_tenant(tenant)
    return pacing.Load(
        in_flight=mine.filter(state__in=IN_FLIGHT).values("pk"),
        last_second=mine.filter(dialed_at__gt=now - timedelta(seconds=1)).values("pk"),
    )


def due_tenants(now: datetime) -> list[Tenant]:
    ids = (
        Appointment.unscoped.filter(next_attempt_at__lte=now, tenant__status=Tenant.Status.ACTIVE)
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    return list(Tenant.objects.filter(pk__in=list(ids)).order_by("pk"))


def tick(tenant: Tenant, now: datetime | None = None) -> int:
    """Place this second's share of the tenant's due calls; return how many were placed.

    Inside the tenant's dialling turn (campaigns.pacing.turn), each due slot is settled
    in a short transaction of its own (`_dispatch`): the engine's live-call counter row,
    which create_call locks until its commit, is then never held across the tick's other
    calls (it made every ending call and hang-up of the tenant wait for whole ticks)."""
    now = now or timezone.now()
    if pacing.still_full(tenant, now, name=PACING_NAME):
        return 0  # every concurrent call is in flight: nothing to place, no turn taken
    with pacing.turn(tenant, name=PACING_NAME) as tenant:
        if tenant is None:  # another of our dispatchers is placing them
            return 0
        # The tenant's budget is shared with the other campaign apps (campaigns.pacing).
        budget = pacing.budget(tenant, now, name=PACING_NAME)
        if budget <= 0:
            return 0
        # Read without locks: each slot is taken in its own transaction (`_take`).
        due = list(
            Appointment.objects.for_tenant(tenant)
            .filter(next_attempt_at__lte=now)
            .select_related("contact", "plan", "plan__caller_id")
            .order_by("next_attempt_at", "pk")[: budget * 2]
        )
        phones = {a.contact.phone for a in due}
        suppressed = set(
            Suppression.objects.for_tenant(tenant)
            .filter(phone__in=phones)
            .values_list("phone", flat=True)
        )
        placed = 0
        for appointment in due:
            if placed >= budget:
                break
            try:
                placed += _dispatch(tenant, appointment, now, suppressed)
            except _LimitReached:
                break
        return placed


def _take(appointment: Appointment) -> bool:
    """Take the appointment's due slot for this transaction: one guarded UPDATE (nothing is
    due until the slot is settled) that holds the row until the commit. False if the row
    changed since the tick read it (edited, cancelled, rescheduled): it is left alone."""
    return bool(
        Appointment.unscoped.filter(
            pk=appointment.pk,
            status=Appointment.Status.SCHEDULED,
            next_attempt_at=appointment.next_attempt_at,
            next_reminder_index=appointment.next_reminder_index,
            next_attempt_number=appointment.next_attempt_number,
        ).update(next_attempt_at=None, updated_at=timezone.now())
    )


def _dispatch(tenant: Tenant, appointment: Appointment, now: datetime, suppressed: set) -> int:
    """Dial the appointment's due slot, or record why not, in one transaction (the slot,
    its Attempt and the engine's call commit together or not at all). Returns 1 if a
    call was placed."""
    contact, plan = appointment.contact, appointment.plan
    if appointment.status != Appointment.Status.SCHEDULED or not plan.active:
        appointment.next_attempt_at = None
        appointment.save(update_fields=["next_attempt_at", "updated_at"])
        return 0
    try:
        with transaction.atomic():
            if not _take(appointment):
                return 0
            if contact.phone in suppressed or not contact.consent:
                listed = contact.phone in suppressed
                reason = "On the do-not-call list." if listed else "No consent."
                _record_skip(tenant, appointment, now, Disposition.SUPPRESSED, reason, stop=True)
                return 0
            zone = ZoneInfo(contact.time_zone)
            if not windows.in_window(now, zone, plan):
                _defer(tenant, appointment, now, zone)
                return 0
            attempt = _claim(tenant, appointment, now)
            connection = call_verbs.create_call(
                tenant,
                targets=[Identifier.phone(contact.phone)],
                callback_uri=callback_url(tenant, attempt),
                source_caller_id=plan.caller_id.e164,
                operation_context=f"reminder:{attempt.pk}",
            )
            attempt.call_connection_id = connection.call_connection_id
            attempt.server_call_id = connection.call.server_call_id
            attempt.save(update_fields=["call_connection_id", "server_call_id"])
            return 1
    except IntegrityError:
        log.info("reminder slot of appointment %s already dispatched", appointment.pk)
        return 0
    except call_verbs.TooManyCalls as exc:
        raise _LimitReached from exc
    except AcsError as exc:
        with transaction.atomic():
            if _take(appointment):
                attempt = _claim(tenant, appointment, now)
                finish_attempt(attempt, Disposition.FAILED, now, detail=str(exc.detail))
        return 0


def _defer(tenant: Tenant, appointment: Appointment, now: datetime, zone: ZoneInfo) -> None:
    """Late (a backlog, a dispatcher that was down): the next allowed time, if any."""
    later = windows.allowed_from(now, appointment.starts_at, zone, appointment.plan)
    if later is not None:
        appointment.next_attempt_at = later
        appointment.save(update_fields=["next_attempt_at", "updated_at"])
    else:
        _record_skip(
            tenant,
            appointment,
            now,
            Disposition.OUTSIDE_WINDOW,
            "No allowed calling time was left before the appointment.",
        )


def _claim(tenant: Tenant, appointment: Appointment, now: datetime) -> Attempt:
    """The slot's Attempt row: the insert fails (IntegrityError) if it was taken."""
    return Attempt.unscoped.create(
        tenant=tenant,
        appointment=appointment,
        reminder_index=appointment.next_reminder_index,
        attempt_number=appointment.next_attempt_number,
        due_at=appointment.next_attempt_at or now,
        dialed_at=now,
    )


def _record_skip(
    tenant: Tenant,
    appointment: Appointment,
    now: datetime,
    disposition: str,
    detail: str,
    *,
    stop: bool = False,
) -> None:
    try:
        with transaction.atomic():
            attempt = Attempt.unscoped.create(
                tenant=tenant,
                appointment=appointment,
                reminder_index=appointment.next_reminder_index,
                attempt_number=appointment.next_attempt_number,
                due_at=appointment.next_attempt_at or now,
                state=A.ENDED,
                disposition=disposition,
                detail=detail,
                ended_at=now,
                step="ended",
            )
    except IntegrityError:
        return
    if stop:
        appointment.next_attempt_at = None
        appointment.save(update_fields=["next_attempt_at", "updated_at"])
    else:
        finish_attempt(attempt, disposition, now)


def release_stale(now: datetime) -> int:
    """End attempts whose call we never heard the end of (delivery gave up on us)."""
    stale = Attempt.unscoped.filter(state__in=IN_FLIGHT, dialed_at__lt=now - STALE_AFTER)
    count = 0
    for attempt_id in list(stale.values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            attempt = Attempt.unscoped.select_for_update().get(pk=attempt_id)
            if attempt.state in IN_FLIGHT:
                finish_attempt(attempt, Disposition.FAILED, now, "No events arrived for the call.")
                count += 1
    return count


def run(
    *,
    seconds: float = 50.0,
    tenant_id: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Dispatch for up to `seconds` while work is due. The list of due tenants once a
    second; each due tenant ticks every TICK_SECONDS, as the notifications
    dispatcher does, so a call due between two looks is placed within a tenth of a second
    rather than up to a second late, and the budget is used again as soon as last second's
    dials age out. `seconds=0` is one pass (on-demand runs)."""
    release_stale(timezone.now())
    deadline = clock() + seconds
    placed = 0
    tenants: list[Tenant] = []
    next_look = clock()
    while True:
        started = clock()
        now = timezone.now()
        if started >= next_look:
            next_look = started + 1.0
            tenants = due_tenants(now)
            if tenant_id is not None:
                tenants = [t for t in tenants if t.pk == tenant_id]
            if not tenants:
                break
        for tenant in tenants:
            placed += tick(tenant, now)
        if clock() + TICK_SECONDS > deadline:
            break
        sleep(max(0.0, TICK_SECONDS - (clock() - started)))
    return placed
