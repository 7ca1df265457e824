"""Reminder verbs: contacts, plans, appointments (upsert by external_id), suppressions,
planning the next call, and running the call flow on the CloudEvents we receive.

Each verb owns its transaction. Calls are placed and driven only through calls.call_verbs,
participant_verbs and media_verbs; what happened arrives as CloudEvents (handle_events).
"""

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Max
from django.utils import timezone
from phonenumbers import timezone as number_zones

from reminders import windows
from reminders.models import (
    Appointment,
    Attempt,
    Contact,
    Disposition,
    ReminderPlan,
    Suppression,
)
from tenants import audit
from tenants.audit import Actor
from tenants.models import Tenant
from tenants.phone import normalize_e164

log = logging.getLogger(__name__)
A = Attempt.State
S = Appointment.Status


# --- contacts, plans, suppressions ------------------------------------------------------


def default_zone(phone: str, tenant: Tenant) -> str:
    """The number's zone when its region has exactly one (e.g. +49 -> Europe/Berlin),
    else the tenant's (a US number may be in any of several)."""
    try:
        zones = set(number_zones.time_zones_for_number(phonenumbers.parse(phone, None)))
    except phonenumbers.NumberParseException:
        zones = set()
    zones.discard("Etc/Unknown")
    return zones.pop() if len(zones) == 1 else tenant.time_zone


def contact_zone(contact: Contact) -> ZoneInfo:
    return ZoneInfo(contact.time_zone)


# The unique rules of the tenant's rows, by constraint name: the field a clash is reported on.
UNIQUE_FIELDS = {
    "contact_phone_per_tenant": ("phone", "A contact with this number exists."),
    "contact_external_id_per_tenant": ("external_id", "A contact with this externalId exists."),
    "plan_name_per_tenant": ("name", "A plan with this name exists."),
    "appointment_external_id_per_tenant": (
        "external_id",
        "Another request created this appointment at the same time; send it again.",
    ),
}


def _taken(tenant: Tenant, row: models.Model, **values: Any) -> bool:
    """Whether another row of the tenant (of the same model) already has these values."""
    others = type(row).objects.for_tenant(tenant).filter(**values)
    if row.pk is not None:
        others = others.exclude(pk=row.pk)
    return others.exists()


def _save_unique(row: models.Model) -> None:
    """Save `row`; a unique rule broken anyway (a concurrent request saved the same value
    between our check and this insert) is the ValidationError the check gives, not a 500."""
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable
            row.save()
    except IntegrityError as exc:
        diag = getattr(exc.__cause__, "diag", None)  # psycopg names the constraint
        field = UNIQUE_FIELDS.get(getattr(diag, "constraint_name", None) or "")
        if field is None:
            raise
        raise ValidationError({field[0]: field[1]}) from exc


@transaction.atomic
def save_contact(
    tenant: Tenant,
    *,
    actor: Actor,
    contact: Contact | None = None,
    audit_it: bool = True,
    **fields: Any,
) -> Contact:
    """Create or change a contact. The phone is normalized to E.164; an empty zone is
    filled from the number (default_zone). Raises ValidationError (also when another
    contact of the tenant has the phone or the externalId)."""
    creating = contact is None
    contact = contact or Contact(tenant=tenant)
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.phone = normalize_e164(contact.phone)
    if not contact.time_zone:
        contact.time_zone = default_zone(contact.phone, tenant)
    contact.full_clean(exclude=["tenant"], validate_unique=False)
    errors = {}
    if _taken(tenant, contact, phone=contact.phone):
        errors["phone"] = "A contact with this number exists."
    if contact.external_id and _taken(tenant, contact, external_id=contact.external_id):
        errors["external_id"] = "A contact with this externalId exists."
    if errors:
        raise ValidationError(errors)
    _save_unique(contact)
    if audit_it:
        audit.record(
            tenant,
            actor=actor,
            action="contact.create" if creating else "contact.update",
            target=contact,
            after={"phone": contact.phone},
        )
    return contact


@transaction.atomic
def delete_contact(tenant: Tenant, contact: Contact, *, actor: Actor) -> None:
    """Delete a contact with their appointments and call history."""
    audit.record(
        tenant,
        actor=actor,
        action="contact.delete",
        target=contact,
        before={"phone": contact.phone},
    )
    contact.delete()


@transaction.atomic
def save_plan(
    tenant: Tenant, *, actor: Actor, plan: ReminderPlan | None = None, **fields: Any
) -> ReminderPlan:
    """Create or change a reminder plan. Raises ValidationError (name taken by another
    plan of the tenant, caller ID not the tenant's, bad offsets, weekdays, window or
    office number)."""
    creating = plan is None
    plan = plan or ReminderPlan(tenant=tenant)
    for name, value in fields.items():
        setattr(plan, name, value)
    validate_plan(tenant, plan)
    _save_unique(plan)
    audit.record(
        tenant,
        actor=actor,
        action="plan.create" if creating else "plan.update",
        target=plan,
        after={"name": plan.name, "offsets": plan.offsets_minutes},
    )
    return plan


def validate_plan(tenant: Tenant, plan: ReminderPlan) -> None:
    errors: dict[str, str] = {}
    if plan.name and _taken(tenant, plan, name=plan.name):
        errors["name"] = "A plan with this name exists."
    if plan.caller_id_id and plan.caller_id.tenant_id != tenant.pk:
        errors["caller_id"] = "Not one of this tenant's phone numbers."
    offsets = plan.offsets_minutes
    if (
        not isinstance(offsets, list)
        or not offsets
        or not all(isinstance(m, int) and 0 < m <= 60 * 24 * 30 for m in offsets)
    ):
        errors["offsets_minutes"] = "A list of minutes before the appointment (1 to 43200)."
    weekdays = plan.weekdays
    if not isinstance(weekdays, list) or not all(
        isinstance(d, int) and 0 <= d <= 6 for d in weekdays
    ):
        errors["weekdays"] = "A list of weekdays, 0 (Monday) to 6 (Sunday)."
    if plan.window_start and plan.window_end:
        start, end = windows.bounds(plan)
        if start >= end:
            errors["window_end"] = "The window must end after it starts, within 08:00-21:00."
    if plan.office_number:
        try:
            plan.office_number = normalize_e164(plan.office_number)
        except ValidationError as exc:
            errors["office_number"] = exc.messages[0]
    policy_error = _retry_policy_error(plan.retry_policy)
    if policy_error:
        errors["retry_policy"] = policy_error
    try:
        plan.full_clean(exclude=["tenant", "caller_id"], validate_unique=False)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)


def _retry_policy_error(policy: Any) -> str:
    if not isinstance(policy, dict):
        return "An object: disposition -> {delay_minutes, max_retries}."
    for name, rule in policy.items():
        if name not in Disposition.values:
            return f"{name!r} is not a disposition."
        if not isinstance(rule, dict) or not all(
            isinstance(rule.get(k), int) and rule[k] >= 0 for k in ("delay_minutes", "max_retries")
        ):
            return f"{name}: needs whole delay_minutes and max_retries, 0 or more."
    return ""


@transaction.atomic
def suppress(
    tenant: Tenant,
    phone: str,
    *,
    actor: Actor,
    reason: str = Suppression.Reason.REQUESTED,
    source: str = Suppression.Source.API,
) -> Suppression:
    """Put a number on the do-not-call list (idempotent) and stop its pending reminders."""
    phone = normalize_e164(phone)
    row, created = Suppression.objects.for_tenant(tenant).get_or_create(
        phone=phone, defaults={"tenant": tenant, "reason": reason, "source": source}
    )
    if created:
        Appointment.objects.for_tenant(tenant).filter(contact__phone=phone).update(
            next_attempt_at=None
        )
        audit.record(
            tenant,
            actor=actor,
            action="suppression.add",
            target=row,
            after={"phone": phone, "reason": reason, "source": source},
        )
    return row


@transaction.atomic
def unsuppress(tenant: Tenant, suppression: Suppression, *, actor: Actor) -> None:
    """Take a number off the do-not-call list; its scheduled appointments are re-planned."""
    audit.record(
        tenant,
        actor=actor,
        action="suppression.remove",
        target=suppression,
        before={"phone": suppression.phone},
    )
    phone = suppression.phone
    suppression.delete()
    for appointment in (
        Appointment.objects.for_tenant(tenant)
        .filter(contact__phone=phone, status=S.SCHEDULED)
        .select_related("contact", "plan")
    ):
        plan_next(appointment, timezone.now(), from_index=appointment.next_reminder_index)
        appointment.save()


# --- appointments ---------------------------------------------------------------------


@transaction.atomic
def save_appointment(
    tenant: Tenant, *, actor: Actor, external_id: str, audit_it: bool = True, **fields: Any
) -> tuple[Appointment, bool]:
    """Create or update the appointment with `external_id` (the upsert of the API and CSV
    import) and plan its next reminder. Returns (appointment, created).

    A changed start time or plan re-plans the remaining reminders; a status other than
    scheduled stops them. Raises ValidationError.
    """
    appointment = (
        Appointment.objects.for_tenant(tenant).select_for_update().filter(external_id=external_id)
    ).first()
    created = appointment is None
    if created:
        appointment = Appointment(tenant=tenant, external_id=external_id)
        missing = [name for name in ("contact", "plan", "starts_at") if fields.get(name) is None]
        if missing:
            raise ValidationError(dict.fromkeys(missing, "Required for a new appointment."))
    before = {
        "starts_at": appointment.starts_at,
        "plan": appointment.plan_id,
        "status": appointment.status,
    }
    for name, value in fields.items():
        setattr(appointment, name, value)
    if appointment.starts_at and timezone.is_naive(appointment.starts_at):
        raise ValidationError({"starts_at": "Needs a time zone (e.g. 2026-03-03T14:30:00-05:00)."})
    appointment.full_clean(exclude=["tenant", "contact", "plan"], validate_unique=False)
    after = {
        "starts_at": appointment.starts_at,
        "plan": appointment.plan_id,
        "status": appointment.status,
    }
    if created or before != after:
        # A new start time is a new appointment to remind of: plan from the first reminder
        # (those whose time has passed collapse into the next, see plan_next).
        moved = before["starts_at"] != after["starts_at"]
        plan_next(
            appointment, timezone.now(), from_index=0 if moved else appointment.next_reminder_index
        )
    _save_unique(appointment)
    if audit_it and (created or before != after):
        audit.record(
            tenant,
            actor=actor,
            action="appointment.create" if created else "appointment.update",
            target=appointment,
            after={"external_id": external_id, "status": appointment.status},
        )
    return appointment, created


def plan_next(appointment: Appointment, now: datetime, *, from_index: int = 0) -> None:
    """Set the appointment's next due reminder (not saved): the first reminder from
    `from_index` with an allowed time before the appointment. A reminder whose time
    would fall at or after the next one's (booked late) is skipped for the later one."""
    appointment.next_attempt_at = None
    if appointment.status != S.SCHEDULED or not appointment.plan.active:
        return
    zone = contact_zone(appointment.contact)
    plan = appointment.plan
    offsets = plan.offsets
    slots = [
        windows.reminder_slot(appointment.starts_at, offset, now, zone, plan)
        if index >= from_index
        else None
        for index, offset in enumerate(offsets)
    ]
    for index in range(from_index, len(offsets)):
        slot = slots[index]
        later = next((s for s in slots[index + 1 :] if s is not None), None)
        if slot is None or (later is not None and later <= slot):
            continue
        appointment.next_reminder_index = index
        appointment.next_attempt_number = _next_number(appointment, index)
        appointment.next_attempt_at = slot
        return
    appointment.next_reminder_index = len(offsets)


def _next_number(appointment: Appointment, index: int) -> int:
    if appointment.pk is None:
        return 1
    done = Attempt.unscoped.filter(appointment=appointment, reminder_index=index).aggregate(
        m=Max("attempt_number")
    )["m"]
    return (done or 0) + 1


@transaction.atomic
def cancel_appointment(tenant: Tenant, appointment_id: int, *, actor: Actor) -> Appointment:
    """Cancel an appointment: no more reminders. A call in flight hears it on answer."""
    appointment = Appointment.objects.for_tenant(tenant).select_for_update().get(pk=appointment_id)
    before = appointment.status
    appointment.status = S.CANCELLED
    appointment.next_attempt_at = None
    appointment.save(update_fields=["status", "next_attempt_at", "updated_at"])
    audit.record(
        tenant,
        actor=actor,
        action="appointment.cancel",
        target=appointment,
        before={"status": before},
        after={"status": S.CANCELLED},
    )
    return appointment


@transaction.atomic
def call_now(tenant: Tenant, appointment_id: int, *, actor: Actor) -> Appointment:
    """Make the appointment's next reminder due now: the dispatcher places it within a
    second, with every rule a planned call has (consent, do-not-call list, the plan's
    calling hours, the tenant's pace). The call stands for the next reminder (after the
    last one, one more attempt of the last). Raises ValidationError unless the
    appointment is scheduled, still ahead and not on a call already."""
    appointment = (
        Appointment.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .select_related("plan")
        .get(pk=appointment_id)
    )
    now = timezone.now()
    if appointment.status != S.SCHEDULED:
        raise ValidationError(f"The appointment is {appointment.status}: no more calls.")
    if appointment.starts_at <= now:
        raise ValidationError("The appointment has already begun.")
    if Attempt.unscoped.filter(
        appointment=appointment, state__in=[A.DIALING, A.CONNECTED]
    ).exists():
        raise ValidationError("A reminder call for it is on now.")
    if appointment.next_attempt_at is None:
        # Nothing planned (every reminder's time has passed): one more of the last.
        index = min(appointment.next_reminder_index, len(appointment.plan.offsets) - 1)
        appointment.next_reminder_index = index
        appointment.next_attempt_number = _next_number(appointment, index)
    before = appointment.next_attempt_at
    appointment.next_attempt_at = now
    appointment.save(
        update_fields=[
            "next_attempt_at",
            "next_reminder_index",
            "next_attempt_number",
            "updated_at",
        ]
    )
    audit.record(
        tenant,
        actor=actor,
        action="appointment.call_now",
        target=appointment,
        before={"next_attempt_at": before.isoformat() if before else None},
        after={"next_attempt_at": now.isoformat()},
    )
    return appointment


# --- finishing an attempt: retries by disposition ------------------------------------


def finish_attempt(attempt: Attempt, disposition: str, now: datetime, detail: str = "") -> None:
    """Close the attempt (the caller holds its lock) and plan what follows: a retry as the
    plan's policy says, else the next reminder. Retries stay inside the window and before
    both the appointment and the next reminder."""
    attempt.state = A.ENDED
    attempt.disposition = attempt.disposition or disposition
    attempt.detail = attempt.detail or detail[:256]
    attempt.ended_at = attempt.ended_at or now
    attempt.save()
    appointment = (
        Appointment.unscoped.select_for_update(of=("self",), no_key=True)
        .select_related("contact", "plan")
        .get(pk=attempt.appointment_id)
    )
    if attempt.disposition == Disposition.OPTED_OUT or appointment.status != S.SCHEDULED:
        appointment.next_attempt_at = None
        appointment.save(update_fields=["next_attempt_at", "updated_at"])
        return
    plan = appointment.plan
    rule = plan.retry_rule(attempt.disposition)
    if rule is not None and attempt.attempt_number < plan.max_attempts:
        same = Attempt.unscoped.filter(
            appointment=appointment,
            reminder_index=attempt.reminder_index,
            disposition=attempt.disposition,
        ).count()
        if same <= int(rule["max_retries"]):
            zone = contact_zone(appointment.contact)
            retry_at = windows.allowed_from(
                now + timedelta(minutes=int(rule["delay_minutes"])),
                appointment.starts_at,
                zone,
                plan,
            )
            plan_next(appointment, now, from_index=attempt.reminder_index + 1)
            following = appointment.next_attempt_at
            if retry_at is not None and (following is None or retry_at < following):
                appointment.next_reminder_index = attempt.reminder_index
                appointment.next_attempt_number = attempt.attempt_number + 1
                appointment.next_attempt_at = retry_at
            appointment.save()
            return
    plan_next(appointment, now, from_index=attempt.reminder_index + 1)
    appointment.save()
