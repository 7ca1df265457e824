"""Demo data for `make run` (seed_demo): a "Planned outage" draft for 20 simulated
households with mixed outcomes (acknowledge, replay then acknowledge, voicemail, busy, no
answer), ready to be launched from the portal and watched to completion."""

from django.db import transaction
from django.utils import timezone

from calls.models import SimulatedCallee
from notifications import services
from notifications.models import Audience, Notification
from reminders import services as contacts
from reminders.demo import _daytime_zone
from reminders.models import Contact
from tenants.models import PhoneNumber, Tenant

NAME = "Planned outage"
AUDIENCE = "Outage area (demo)"
CALLERS = ["+14255550100", "+14255550101"]  # the demo tenant's numbers
MESSAGE = (
    "Hello {name}. This is your electricity provider. Power will be off in {area} "
    "tomorrow from 2 to 6 pm for planned maintenance."
)
# What each of the 20 households does, in turn (five kinds, four households each).
SCRIPTS = [
    ("acknowledge", {"outcome": "answer", "answer_after": 2, "keys": [[3, "1", "prompt"]]}),
    (
        "replay then acknowledge",
        {"outcome": "answer", "answer_after": 3, "keys": [[3, "2", "prompt"], [12, "1"]]},
    ),
    ("voicemail", {"outcome": "voicemail", "answer_after": 4, "keys": []}),
    ("busy", {"outcome": "busy", "answer_after": 1, "keys": []}),
    ("no answer", {"outcome": "no_answer", "answer_after": 1, "keys": []}),
]
HOUSEHOLDS = 20


def phone(n: int) -> str:
    return f"+1425555{7000 + n:04d}"


@transaction.atomic
def seed_notifications(tenant: Tenant) -> str:
    """(Re)create the demo households, audience and a fresh draft of the notification;
    safe to run again (a launched demo notification is replaced by a new draft)."""
    zone = _daytime_zone(timezone.now())
    for n in range(1, HOUSEHOLDS + 1):
        _, script = SCRIPTS[(n - 1) % len(SCRIPTS)]
        SimulatedCallee.unscoped.update_or_create(
            tenant=tenant, raw_id=f"4:{phone(n)}", defaults={**script, "hang_up_after": None}
        )
        existing = Contact.objects.for_tenant(tenant).filter(phone=phone(n)).first()
        contacts.save_contact(
            tenant, actor=None, contact=existing, audit_it=False, name=f"Household {n}",
            phone=phone(n), time_zone=zone, area=f"Zone {1 + (n - 1) // 10}",
            tags=Contact.stored_tags(["demo-outage"]),
        )  # fmt: skip
    Notification.objects.for_tenant(tenant).filter(name=NAME).delete()
    audience = Audience.objects.for_tenant(tenant).filter(name=AUDIENCE).first()
    audience = services.save_audience(
        tenant, actor=None, audience=audience, name=AUDIENCE, tags=["demo-outage"]
    )
    services.save_notification(
        tenant,
        actor=None,
        name=NAME,
        audience=audience,
        message=MESSAGE,
        caller_ids=list(PhoneNumber.objects.for_tenant(tenant).filter(e164__in=CALLERS)),
        retry_delay_minutes=1,
        max_rounds=2,
    )
    kinds = ", ".join(kind for kind, _ in SCRIPTS)
    return f"“{NAME}” for {HOUSEHOLDS} households ({kinds}): launch it on Notifications"
