"""`manage.py seed_demo`: a demo tenant to try callauto with. Safe to run again.

It composes every app's demo data, so it lives with the project, not in one app.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from callauto.demo_info import DEMO_SLUG, DEMO_USER, OPERATOR_USER, banner, demo_info, kept_password
from notifications.demo import seed_notifications
from reminders.demo import seed_reminders
from tenants import services, trunks
from tenants.models import Membership, PhoneNumber, Tenant, Trunk

DEMO_NUMBERS = [("+14255550100", "Main line"), ("+14255550101", "Reminders")]
# A number on a real SIP trunk: SIPp on this machine (Procfile "siplab") answers and echoes.
LAB_TRUNK, LAB_NUMBER = "Local SIP lab", "+14255550102"


def demo_password() -> str:
    return kept_password("demo")


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant, its owner login, numbers and keys."

    def handle(self, *args: Any, **options: Any) -> None:
        password = demo_password()
        with transaction.atomic():
            user, _ = get_user_model().objects.get_or_create(
                username=DEMO_USER, defaults={"email": "demo@example.com"}
            )
            user.set_password(password)
            user.save()
            tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
            if tenant is None:
                tenant = services.create_tenant(
                    "Demo Clinic", DEMO_SLUG, actor=None, owner=user, time_zone="America/New_York"
                )
            Membership.unscoped.get_or_create(
                tenant=tenant, user=user, defaults={"role": Membership.Role.OWNER}
            )
            for number, label in DEMO_NUMBERS:
                if not PhoneNumber.unscoped.filter(e164=number).exists():
                    services.add_phone_number(tenant, number, label=label, actor=None)
            # A platform operator (Django superuser) for /admin/ and the all-tenant report;
            # production makes its own with `manage.py createsuperuser` (README).
            operator, _ = get_user_model().objects.get_or_create(
                username=OPERATOR_USER, defaults={"email": "operator@example.com"}
            )
            operator.is_staff = operator.is_superuser = True
            operator.set_password(kept_password("operator"))
            operator.save()
        lab = seed_sip_lab(tenant)
        reminders = seed_reminders(tenant)
        notifications = seed_notifications(tenant)
        info = demo_info()
        assert info is not None
        self.stdout.write(
            banner(
                info,
                f"  Reminders:         {reminders}",
                f"  Notifications:     {notifications}",
                f"  SIP lab:           {lab}",
            )
        )


@transaction.atomic
def seed_sip_lab(tenant: Tenant) -> str:
    """The trunk "Local SIP lab" (SIPp on SIP_LAB_PORT) and its own number."""
    trunk = Trunk.objects.for_tenant(tenant).filter(name=LAB_TRUNK).first()
    port = settings.SIP_LAB_PORT
    if trunk is None or trunk.proxy_port != port:
        trunk = trunks.save_trunk(
            tenant, actor=None, trunk=trunk, name=LAB_TRUNK, proxy_host="127.0.0.1",
            proxy_port=port, codecs=Trunk.Codecs.PCMU_PCMA, max_concurrent_calls=50,
        )  # fmt: skip
    if not PhoneNumber.unscoped.filter(e164=LAB_NUMBER).exists():
        services.add_phone_number(tenant, LAB_NUMBER, label=LAB_TRUNK, actor=None)
    trunks.bind_numbers(tenant, trunk, [LAB_NUMBER], actor=None)
    return f"calls from {LAB_NUMBER} go over SIP to SIPp on 127.0.0.1:{port} (it echoes)"
