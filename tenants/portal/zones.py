"""Which time zone the portal shows times in: the person's own if they chose one, else the
tenant's. Portal pages render inside it (tenants.portal.access.tenant_page)."""

import zoneinfo

from django.contrib.auth.base_user import AbstractBaseUser

from tenants.models import Tenant, UserPreference


def display_zone(user: object, tenant: Tenant) -> zoneinfo.ZoneInfo:
    own = ""
    if isinstance(user, AbstractBaseUser):
        own = (
            UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first()
            or ""
        )
    return zoneinfo.ZoneInfo(own or tenant.time_zone)


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]
