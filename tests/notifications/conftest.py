from collections.abc import Callable

import pytest

from calls.models import SimulatedCallee
from notifications import services
from notifications.models import Audience, Notification
from reminders import services as contacts
from reminders.models import Contact
from tenants import services as tenant_services
from tenants.models import PhoneNumber, Tenant
from tests.calls.conftest import _tasks_run_inline, callbacks, gateway  # noqa: F401
from tests.reminders.conftest import _shared_media_cache, clock  # noqa: F401

CALLERS = ["+14255550100", "+14255550101"]


@pytest.fixture(autouse=True)
def _no_kick(settings):
    # Tests tick the dispatcher by hand; a launch must not start a run of its own.
    settings.NOTIFY_KICK_SECONDS = None


@pytest.fixture
def acme(tenant: Tenant) -> Tenant:
    tenant.time_zone = "America/New_York"
    tenant.calls_per_second = 10
    tenant.max_concurrent_calls = 20
    tenant.save()
    for number in CALLERS:
        tenant_services.add_phone_number(tenant, number, actor=None)
    return tenant


@pytest.fixture
def wired(settings, live_server):
    """Our calls' callbacks reach the notifications endpoint on the live server."""
    settings.NOTIFICATIONS_CALLBACK_BASE_URL = live_server.url


def household(
    tenant: Tenant,
    n: int,
    *,
    area: str = "zone-4",
    tags: str = "",
    zone: str = "America/New_York",
    **behaviour,
) -> Contact:
    """Contact n (+1425556nnnn) and, with `behaviour`, its scripted simulated callee."""
    phone = f"+1425556{n:04d}"
    contact = contacts.save_contact(
        tenant,
        actor=None,
        name=f"Household {n}",
        phone=phone,
        time_zone=zone,
        area=area,
        tags=Contact.stored_tags(tags),
    )
    if behaviour:
        keys = behaviour.pop("keys", [])
        SimulatedCallee.unscoped.create(
            tenant=tenant, raw_id=f"4:{phone}", keys=[list(k) for k in keys], **behaviour
        )
    return contact


@pytest.fixture
def audience(acme) -> Audience:
    return services.save_audience(acme, actor=None, name="Zone 4", areas=["zone-4"])


@pytest.fixture
def notify(acme, audience) -> Callable[..., Notification]:
    def build(**fields) -> Notification:
        defaults = {
            "name": "Planned outage",
            "audience": audience,
            "message": "Hello {name}. Power will be off in {area} from 2 to 6 pm.",
            "caller_ids": list(PhoneNumber.objects.for_tenant(acme).order_by("e164")),
        }
        return services.save_notification(acme, actor=None, **{**defaults, **fields})

    return build


@pytest.fixture
def media_root(settings, tmp_path):
    """Django's default storage (uploaded WAVs) in a directory of this test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
