from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from calls.models import SimulatedCallee
from reminders import services
from reminders.models import Appointment, Contact, ReminderPlan
from tenants import services as tenant_services
from tenants.models import PhoneNumber, Tenant
from tests.calls.conftest import _tasks_run_inline, callbacks, gateway  # noqa: F401

CALLER = "+14255550100"
OFFICE = "+14255550199"
PATIENT = "+14255550123"
# Tuesday 2026-03-03 15:00 UTC: 10:00 in New York, 09:00 in Chicago, inside the windows.
TUESDAY_MORNING = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _shared_media_cache(settings, tmp_path_factory):
    # Speech renders once per text for the whole session.
    settings.MEDIA_CACHE_DIR = tmp_path_factory.getbasetemp() / "reminders-media-cache"


@pytest.fixture
def clock():
    """Wall-clock time for the test (windows are checked against it); it keeps ticking."""
    with time_machine.travel(TUESDAY_MORNING, tick=True) as traveller:
        yield traveller


@pytest.fixture
def acme(tenant: Tenant) -> Tenant:
    tenant.time_zone = "America/New_York"
    tenant.calls_per_second = 5
    tenant.max_concurrent_calls = 10
    tenant.save()
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    return tenant


@pytest.fixture
def plan(acme) -> ReminderPlan:
    return services.save_plan(
        acme,
        actor=None,
        name="Clinic",
        offsets_minutes=[24 * 60, 120],
        caller_id=PhoneNumber.objects.for_tenant(acme).get(e164=CALLER),
        office_number=OFFICE,
        weekdays=[0, 1, 2, 3, 4, 5, 6],
    )


@pytest.fixture
def wired(settings, live_server):
    """Our calls' callbacks reach the reminders endpoint on the live server."""
    settings.REMINDERS_CALLBACK_BASE_URL = live_server.url


def callee(tenant: Tenant, number: str = PATIENT, **behaviour) -> None:
    keys = behaviour.pop("keys", [])
    SimulatedCallee.unscoped.create(
        tenant=tenant, raw_id=f"4:{number}", keys=[list(k) for k in keys], **behaviour
    )


def book(
    tenant: Tenant,
    plan: ReminderPlan,
    *,
    starts_in: timedelta = timedelta(hours=1),
    phone: str = PATIENT,
    zone: str = "America/New_York",
    external_id: str = "A-1",
    starts_at: datetime | None = None,
) -> Appointment:
    contact = Contact.objects.for_tenant(tenant).filter(phone=phone).first()
    if contact is None:
        contact = services.save_contact(
            tenant, actor=None, name="Ann Lee", phone=phone, time_zone=zone
        )
    from django.utils import timezone

    appointment, _ = services.save_appointment(
        tenant,
        actor=None,
        external_id=external_id,
        contact=contact,
        plan=plan,
        starts_at=starts_at or timezone.now() + starts_in,
        provider="Dr. Smith",
        location="Main Street",
    )
    return appointment
