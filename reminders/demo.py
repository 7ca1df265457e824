"""Demo data for `make run` (seed_demo): a plan and three appointments whose reminders
are due within minutes, with simulated callees that answer and press 1, 2 and 3."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from calls.models import SimulatedCallee
from reminders import services
from reminders.models import Appointment, Contact, ReminderPlan
from tenants.models import PhoneNumber, Tenant

PLAN = "Demo reminders"
CALLER = "+14255550101"
OFFICE = "+14255550150"
PEOPLE = [  # (external id, name, phone, key pressed five seconds into the menu)
    ("demo-1", "Ann Lee", "+14255550161", "1"),
    ("demo-2", "Bo Berg", "+14255550162", "2"),
    ("demo-3", "Cy Diaz", "+14255550163", "3"),
]
# Zones to show the demo contacts in: the first where it is now daytime (the demo must
# ring whenever `make run` starts, and calls happen only 08:00-21:00 local).
ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Sydney",
]


def _daytime_zone(now: datetime) -> str:
    for name in ZONES:
        if 9 <= now.astimezone(ZoneInfo(name)).hour < 19:
            return name
    return ZONES[0]


@transaction.atomic
def seed_reminders(tenant: Tenant) -> str:
    """(Re)create the demo plan and appointments; safe to run again: old demo appointments
    and their calls are replaced by fresh ones due 1, 2 and 3 minutes from now."""
    now = timezone.now()
    zone = _daytime_zone(now)
    caller = PhoneNumber.objects.for_tenant(tenant).get(e164=CALLER)
    plan = ReminderPlan.objects.for_tenant(tenant).filter(name=PLAN).first()
    plan = services.save_plan(
        tenant,
        actor=None,
        plan=plan,
        name=PLAN,
        offsets_minutes=[120],
        caller_id=caller,
        office_number=OFFICE,
        weekdays=list(range(7)),
    )
    # The office is a person on the portal's softphone: "press 3" rings there.
    SimulatedCallee.unscoped.update_or_create(
        tenant=tenant,
        raw_id=f"4:{OFFICE}",
        defaults={"outcome": SimulatedCallee.Outcome.SOFTPHONE, "keys": [], "hang_up_after": None},
    )
    Appointment.objects.for_tenant(tenant).filter(external_id__in=[p[0] for p in PEOPLE]).delete()
    for minutes, (external_id, name, phone, key) in enumerate(PEOPLE, start=1):
        SimulatedCallee.unscoped.update_or_create(
            tenant=tenant,
            raw_id=f"4:{phone}",
            defaults={"outcome": "answer", "answer_after": 2, "keys": [[5, key, "prompt"]]},
        )
        contact = Contact.objects.for_tenant(tenant).filter(phone=phone).first()
        contact = services.save_contact(
            tenant, actor=None, contact=contact, name=name, phone=phone, time_zone=zone
        )
        services.save_appointment(
            tenant,
            actor=None,
            external_id=external_id,
            contact=contact,
            plan=plan,
            starts_at=now + timedelta(minutes=120 + minutes),
            provider="Dr. Demo",
            location="the demo clinic",
        )
    return (
        f"plan “{PLAN}”, 3 appointments reminded in 1-3 minutes (contacts in {zone}); "
        f"the one who presses 3 rings the office, {OFFICE}, on the Softphone page"
    )
