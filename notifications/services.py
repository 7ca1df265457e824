"""Notification verbs: audiences, notifications (edit while a draft), launch, pause,
resume, cancel, and what follows a call's end (retry rounds, completion).

Each verb owns its transaction; status changes go through TRANSITIONS with a guarded
UPDATE, so two operators (or an operator and the dispatcher) never both win. Calls are
placed and driven only through calls' public verbs (dispatcher.py, calling.py).
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from callauto import outbound
from callauto.errors import AcsError
from calls import call_verbs
from notifications import audiences, events
from notifications.models import (
    RETRIED,
    Audience,
    Dial,
    Disposition,
    Notification,
    Recipient,
)
from tenants import audit
from tenants.audit import Actor
from tenants.models import PhoneNumber, Tenant

log = logging.getLogger(__name__)
S = Notification.Status
R = Recipient.State

# A status absent here is terminal.
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.SCHEDULED, S.RUNNING, S.CANCELLED},
    S.SCHEDULED: {S.RUNNING, S.PAUSED, S.CANCELLED},
    S.RUNNING: {S.PAUSED, S.COMPLETED, S.CANCELLED},
    S.PAUSED: {S.RUNNING, S.SCHEDULED, S.CANCELLED},
}


class InvalidTransition(Exception):
    pass


def transition(notification: Notification, to: str, **fields: Any) -> None:
    """Move `notification` to `to` (the table allows it and nobody moved it meanwhile)."""
    if to not in TRANSITIONS.get(notification.status, set()):
        raise InvalidTransition(f"A {notification.status} notification cannot become {to}.")
    moved = Notification.unscoped.filter(pk=notification.pk, status=notification.status).update(
        status=to, updated_at=timezone.now(), **fields
    )
    if not moved:
        raise InvalidTransition("The notification changed meanwhile; reload it.")
    notification.status = to
    for name, value in fields.items():
        setattr(notification, name, value)


def _taken(tenant: Tenant, row: Any, **values: Any) -> bool:
    others = type(row).objects.for_tenant(tenant).filter(**values)
    return (others.exclude(pk=row.pk) if row.pk else others).exists()


# --- audiences ------------------------------------------------------------------------


@transaction.atomic
def save_audience(
    tenant: Tenant, *, actor: Actor, audience: Audience | None = None, **fields: Any
) -> Audience:
    """Create or change an audience (name, everyone, tags, areas, members). Raises
    ValidationError (name taken, members not the tenant's contacts)."""
    creating = audience is None
    audience = audience or Audience(tenant=tenant)
    members = fields.pop("members", None)
    for name, value in fields.items():
        setattr(audience, name, value)
    audience.tags = sorted({str(t).strip().lower() for t in audience.tags or [] if str(t).strip()})
    audience.areas = sorted({str(a).strip() for a in audience.areas or [] if str(a).strip()})
    audience.full_clean(exclude=["tenant", "members"], validate_unique=False)
    if _taken(tenant, audience, name=audience.name):
        raise ValidationError({"name": "An audience with this name exists."})
    if members is not None and any(c.tenant_id != tenant.pk for c in members):
        raise ValidationError({"members": "Not this tenant's contacts."})
    audience.save()
    if members is not None:
        audience.members.set(members)
    audit.record(
        tenant,
        actor=actor,
        action="audience.create" if creating else "audience.update",
        target=audience,
        after={"name": audience.name, "tags": audience.tags, "areas": audience.areas},
    )
    return audience


# --- notifications --------------------------------------------------------------------


def render(template: str, *, name: str, area: str) -> str:
    return template.format(name=name, area=area or "your area")


def validate_message(value: str) -> None:
    try:
        render(value, name="", area="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(
            {"message": f"Only the placeholders {{name}} and {{area}} may be used: {exc}"}
        ) from exc


@transaction.atomic
def save_notification(
    tenant: Tenant,
    *,
    actor: Actor,
    notification: Notification | None = None,
    uploading: bool = False,
    **fields: Any,
) -> Notification:
    """Create or change a notification; only a draft may change. Raises ValidationError
    (no message, keys clash, caller IDs not the tenant's, name taken, unsafe events URL)
    and InvalidTransition for a launched one. `uploading`: a WAV follows in the same
    transaction (notifications.audio.attach), so the message may be empty."""
    creating = notification is None
    notification = notification or Notification(tenant=tenant)
    if notification.status != S.DRAFT:
        raise InvalidTransition("Only a draft notification can be changed.")
    caller_ids = fields.pop("caller_ids", None)
    for name, value in fields.items():
        setattr(notification, name, value)
    errors: dict[str, Any] = {}
    if not (notification.message or notification.audio_url or notification.audio_file or uploading):
        errors["message"] = "Give the message text, or an audioUrl to a WAV file."
    elif notification.message:
        try:
            validate_message(notification.message)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    keys = [notification.ack_key, notification.replay_key, notification.opt_out_key]
    if len(set(keys)) != 3:
        errors["ack_key"] = "The acknowledge, replay and opt-out keys must differ."
    if notification.audience_id and notification.audience.tenant_id != tenant.pk:
        errors["audience"] = "Not one of this tenant's audiences."
    if caller_ids is not None:
        if not caller_ids:
            errors["caller_ids"] = "At least one of the tenant's numbers."
        elif any(n.tenant_id != tenant.pk for n in caller_ids):
            errors["caller_ids"] = "Not one of this tenant's phone numbers."
    elif creating:
        errors["caller_ids"] = "At least one of the tenant's numbers."
    if notification.events_url:
        try:
            outbound.check(notification.events_url)
        except outbound.UnsafeUrl as exc:
            errors["events_url"] = f"This URL is not allowed: {exc}"
    if notification.name and _taken(tenant, notification, name=notification.name):
        errors["name"] = "A notification with this name exists."
    try:
        notification.full_clean(exclude=["tenant", "audience", "caller_ids"], validate_unique=False)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items() if k not in errors})
    if errors:
        raise ValidationError(errors)
    notification.save()
    if caller_ids is not None:
        notification.caller_ids.set(caller_ids)
    audit.record(
        tenant,
        actor=actor,
        action="notification.create" if creating else "notification.update",
        target=notification,
        after={"name": notification.name, "life_safety": notification.life_safety},
    )
    return notification


# The average call a notification makes (ring, message, ack, goodbye), for the ETA only.
TYPICAL_CALL_SECONDS = 30


def eta_seconds(tenant: Tenant, calls: int) -> int:
    """How long `calls` take at the tenant's calls-per-second and concurrent-call limits."""
    if calls <= 0:
        return 0
    rate = min(float(tenant.calls_per_second), tenant.max_concurrent_calls / TYPICAL_CALL_SECONDS)
    return round(calls / max(rate, 0.01))


def preview(notification: Notification) -> dict[str, Any]:
    """What launching would do: the audience count (with the life-safety difference), the
    first rows with their rendered prompt, and the estimated time to reach everyone."""
    count = audiences.count(notification.audience)
    rows = audiences.first_rows(notification.audience, life_safety=notification.life_safety)
    size = count.life_safety if notification.life_safety else count.reachable
    return {
        "audienceSize": size,
        "matching": count.matching,
        "suppressedLeftOut": count.matching - size,
        "lifeSafetyOverrides": count.life_safety - count.reachable,
        "optedOut": count.opted_out,
        "etaSeconds": eta_seconds(notification.tenant, size),
        "callsPerSecond": notification.tenant.calls_per_second,
        "maxConcurrentCalls": notification.tenant.max_concurrent_calls,
        "quietHoursIgnored": notification.life_safety,
        "firstRows": [
            {
                "contact": c.pk,
                "name": c.name,
                "phone": c.phone,
                "area": c.area,
                "language": c.language or notification.language,
                # With a WAV, only the keys' instructions are spoken after it.
                "prompt": key_instructions(notification)
                if notification.audio_file or notification.audio_url
                else prompt_text(notification, name=c.name, area=c.area),
            }
            for c in rows
        ],
    }


def key_instructions(notification: Notification) -> str:
    # The words are the flow's spoken choices (notifications.flow.PHRASES).
    return (
        f"Press {notification.ack_key} or say yes to confirm you heard this message, "
        f"{notification.replay_key} or say repeat to hear it again, "
        f"or {notification.opt_out_key} to stop these calls."
    )


def prompt_text(notification: Notification, *, name: str, area: str) -> str:
    """The spoken message with the keys' instructions (text notifications)."""
    message = render(notification.message, name=name, area=area) if notification.message else ""
    return f"{message} {key_instructions(notification)}".strip()


@transaction.atomic
def launch(tenant: Tenant, notification_id: int, *, actor: Actor) -> Notification:
    """Launch a draft: snapshot its audience into recipients (due now, or at its schedule)
    and let the dispatcher dial. Life-safety launches audit what they override. Raises
    InvalidTransition unless a draft, ValidationError for an empty audience or no numbers,
    Notification.DoesNotExist for another tenant's."""
    notification = (
        Notification.objects.for_tenant(tenant).select_for_update().get(pk=notification_id)
    )
    if notification.status != S.DRAFT:
        raise InvalidTransition(f"A {notification.status} notification cannot be launched.")
    if not notification.caller_ids.exists():
        raise ValidationError({"caller_ids": "At least one of the tenant's numbers."})
    now = timezone.now()
    start = max(notification.scheduled_at or now, now)
    recipients, overrides = audiences.snapshot(notification, start)
    if not recipients:
        raise ValidationError({"audience": "The audience reaches nobody."})
    scheduled = start > now
    transition(
        notification,
        S.SCHEDULED if scheduled else S.RUNNING,
        launched_at=now,
        started_at=None if scheduled else now,
    )
    audit.record(
        tenant,
        actor=actor,
        action="notification.launch",
        target=notification,
        after={
            "recipients": recipients,
            "life_safety": notification.life_safety,
            # The life-safety difference, on the record: suppressions and quiet hours.
            "suppressions_overridden": overrides,
            "quiet_hours_ignored": notification.life_safety,
            "scheduled_at": start.isoformat() if scheduled else None,
        },
    )
    events.publish(
        notification,
        "Launched",
        {
            "recipients": recipients,
            "lifeSafety": notification.life_safety,
            "startsAt": start.isoformat(),
        },
    )
    if not scheduled:
        transaction.on_commit(lambda: kick(tenant.pk))
    return notification


def kick(tenant_id: int) -> None:
    """Start a dispatcher run at once (the minute schedule would also find the work)."""
    from django_q.tasks import async_task

    if settings.NOTIFY_KICK_SECONDS is not None:  # None: tests tick by hand
        async_task(
            "notifications.tasks.dispatch_notifications", tenant_id, settings.NOTIFY_KICK_SECONDS
        )


@transaction.atomic
def pause(tenant: Tenant, notification_id: int, *, actor: Actor) -> Notification:
    """Stop dialling (calls in progress finish); resume carries on where it stopped."""
    notification = _locked(tenant, notification_id)
    transition(notification, S.PAUSED)
    audit.record(tenant, actor=actor, action="notification.pause", target=notification)
    return notification


@transaction.atomic
def resume(tenant: Tenant, notification_id: int, *, actor: Actor) -> Notification:
    notification = _locked(tenant, notification_id)
    now = timezone.now()
    if notification.status == S.PAUSED and notification.started_at is None:
        later = notification.scheduled_at and notification.scheduled_at > now
        transition(
            notification,
            S.SCHEDULED if later else S.RUNNING,
            **({} if later else {"started_at": now}),
        )
    else:
        transition(notification, S.RUNNING)
    audit.record(tenant, actor=actor, action="notification.resume", target=notification)
    if notification.status == S.RUNNING:
        transaction.on_commit(lambda: kick(tenant.pk))
    return notification


@transaction.atomic
def cancel(
    tenant: Tenant, notification_id: int, *, actor: Actor, hang_up: bool | None = None
) -> Notification:
    """Stop new dials at once; calls in progress finish, or are hung up (`hang_up`,
    default: the notification's setting). Waiting recipients end `cancelled`."""
    notification = _locked(tenant, notification_id)
    now = timezone.now()
    transition(notification, S.CANCELLED, completed_at=now)
    Recipient.objects.for_tenant(tenant).filter(notification=notification, state=R.WAITING).update(
        state=R.DONE, disposition=Disposition.CANCELLED, next_attempt_at=None, finished_at=now
    )
    hang_up = notification.hang_up_on_cancel if hang_up is None else hang_up
    live = list(
        Dial.objects.for_tenant(tenant)
        .filter(notification=notification, state__in=[Dial.State.DIALING, Dial.State.CONNECTED])
        .exclude(call_connection_id="")
        .values_list("call_connection_id", flat=True)
    )
    if hang_up:
        for connection_id in live:
            try:
                call_verbs.hang_up(tenant, connection_id)
            except AcsError as exc:  # it ended meanwhile
                log.info("cancel: hang-up of %s refused: %s", connection_id, exc)
    audit.record(
        tenant,
        actor=actor,
        action="notification.cancel",
        target=notification,
        after={"calls_in_progress": len(live), "hung_up": bool(hang_up)},
    )
    events.publish(notification, "Completed", {"status": S.CANCELLED, **tally(notification)})
    return notification


def _locked(tenant: Tenant, notification_id: int) -> Notification:
    return Notification.objects.for_tenant(tenant).select_for_update().get(pk=notification_id)


def tally(notification: Notification) -> dict[str, int]:
    """Recipients by final disposition (and how many are still open)."""
    rows = Recipient.unscoped.filter(notification=notification)
    counts = dict.fromkeys(Disposition.values, 0)
    for disposition, n in _grouped(rows.exclude(disposition=""), "disposition"):
        counts[disposition] = n
    counts["open"] = rows.filter(disposition="").count()
    return counts


def _grouped(rows: Any, field: str) -> list[tuple[str, int]]:
    from django.db.models import Count

    return [(r[field], r["n"]) for r in rows.values(field).annotate(n=Count("pk")).order_by()]


# --- after a call ---------------------------------------------------------------------


def finish_dial(
    dial: Dial, disposition: str, now: datetime, detail: str = "", *, joined: bool = False
) -> None:
    """Close the dial (the caller holds its lock) and settle its recipient: another round
    with back-off for the unreached while rounds and time are left, else done. The
    notification completes when nothing is waiting or in flight. `joined`: the caller
    read the dial with its recipient (locked in the same SELECT) and notification, so
    they are not read again (the callback endpoint: two round trips per call)."""
    dial.state = Dial.State.ENDED
    dial.disposition = dial.disposition or disposition
    dial.detail = dial.detail or detail[:256]
    dial.ended_at = dial.ended_at or now
    dial.save()
    if joined:
        recipient, notification = dial.recipient, dial.notification
    else:
        recipient = Recipient.unscoped.select_for_update().get(pk=dial.recipient_id)
        notification = Notification.unscoped.get(pk=dial.notification_id)
    settle(recipient, notification, dial.disposition, now)


def settle(
    recipient: Recipient, notification: Notification, disposition: str, now: datetime
) -> None:
    """The recipient's outcome after a call of round `recipient.round` (or a skip)."""
    if recipient.state == R.DONE:
        return
    expires = notification.expires_at
    retry_at = now + timedelta(
        minutes=notification.retry_delay_minutes * 2 ** (recipient.round - 1)
    )
    if (
        disposition in RETRIED
        and recipient.round < notification.max_rounds
        and notification.status in (S.RUNNING, S.PAUSED)
        and (expires is None or retry_at < expires)
    ):
        recipient.round += 1
        recipient.state = R.WAITING
        recipient.disposition = ""
        recipient.next_attempt_at = retry_at
    else:
        recipient.state = R.DONE
        recipient.disposition = disposition
        recipient.next_attempt_at = None
        recipient.finished_at = now
        if disposition == Disposition.ACKNOWLEDGED:
            recipient.acknowledged_at = now
    recipient.save()
    if disposition == Disposition.ACKNOWLEDGED:
        recipient.notification = notification
        events.acknowledged(recipient)
    if recipient.state == R.DONE:
        complete_if_done(notification, now)


def complete_if_done(notification: Notification, now: datetime) -> bool:
    """Complete a running notification with no recipient waiting or calling."""
    if notification.status != S.RUNNING:
        return False
    open_ = Recipient.unscoped.filter(notification=notification).filter(
        Q(state=R.WAITING) | Q(state=R.CALLING)
    )
    if open_.exists():
        return False
    try:
        with transaction.atomic():
            transition(notification, S.COMPLETED, completed_at=now)
    except (InvalidTransition, IntegrityError):
        return False
    events.publish(notification, "Completed", {"status": S.COMPLETED, **tally(notification)})
    return True


def caller_pool(notification: Notification) -> list[str]:
    return list(
        PhoneNumber.objects.for_tenant(notification.tenant)
        .filter(pk__in=notification.caller_ids.values("pk"))
        .order_by("e164")
        .values_list("e164", flat=True)
    )
