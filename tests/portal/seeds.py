"""Rows for the portal list tests, written directly (fast) as the apps would write them."""

import datetime as dt

from calls.models import Call, Participant
from recordings.models import Recording
from reminders.models import Appointment, Contact, ReminderPlan
from tenants import services as tenant_services
from tenants.models import AuditEntry, PhoneNumber, Tenant
from tests.factories import make_call_delivery

__all__ = ["make_call_delivery"]

T0 = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)


def call(tenant: Tenant, **fields: object) -> Call:
    fields.setdefault("direction", Call.Direction.OUTBOUND)
    return Call.unscoped.create(tenant=tenant, **fields)


def calls(tenant: Tenant, n: int) -> None:
    Call.unscoped.bulk_create(
        Call(tenant=tenant, direction=Call.Direction.OUTBOUND, source_caller_id="+14255550100")
        for _ in range(n)
    )


def dialled(tenant: Tenant, number: str, **fields: object) -> Call:
    """An outbound call whose target (a participant) is `number`."""
    made = call(tenant, **fields)
    Participant.unscoped.create(
        tenant=tenant, call=made, role=Participant.Role.TARGET, raw_id=f"4:{number}"
    )
    return made


def plan(tenant: Tenant, name: str = "Clinic") -> ReminderPlan:
    number = PhoneNumber.unscoped.filter(tenant=tenant).first()
    if number is None:
        number = tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    return ReminderPlan.unscoped.create(tenant=tenant, name=name, caller_id=number)


def appointment(
    tenant: Tenant, plan: ReminderPlan, external_id: str, *, name: str = "Ann Lee",
    phone: str = "+14255550123", starts_at: dt.datetime = T0, status: str = "scheduled",
) -> Appointment:  # fmt: skip
    contact = Contact.unscoped.create(
        tenant=tenant, name=name, phone=phone, time_zone="America/New_York"
    )
    return Appointment.unscoped.create(
        tenant=tenant, contact=contact, plan=plan, starts_at=starts_at,
        external_id=external_id, status=status,
    )  # fmt: skip


def appointments(tenant: Tenant, n: int) -> None:
    start = Appointment.unscoped.filter(tenant=tenant).count()
    chosen = ReminderPlan.unscoped.filter(tenant=tenant).first() or plan(tenant)
    for i in range(start, start + n):
        appointment(
            tenant, chosen, f"B-{i}", phone=f"+1425556{i:04d}",
            starts_at=T0 + dt.timedelta(minutes=i),
        )  # fmt: skip


def recording(tenant: Tenant, of: Call, **fields: object) -> Recording:
    fields.setdefault("state", Recording.State.STOPPED)
    return Recording.unscoped.create(tenant=tenant, call=of, started_by="app", **fields)


def recordings(tenant: Tenant, n: int) -> None:
    of = call(tenant)
    Recording.unscoped.bulk_create(
        Recording(tenant=tenant, call=of, started_by="app", state=Recording.State.STOPPED)
        for _ in range(n)
    )


def deliveries(tenant: Tenant, n: int) -> None:
    of = call(tenant)
    for i in range(n):
        make_call_delivery(tenant, of, state="dead", sequence=i + 1)


def audit_entries(tenant: Tenant, n: int) -> None:
    AuditEntry.unscoped.bulk_create(
        AuditEntry(tenant=tenant, actor_label="ada", action="phone_number.add",
                   target_type="phone_number", target_id=str(i))
        for i in range(n)
    )  # fmt: skip
