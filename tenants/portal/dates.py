"""Days as the tenant sees them: portal date filters mean the tenant's own calendar."""

import datetime as dt
import zoneinfo

from django import forms
from django.utils import timezone

from tenants.models import Tenant


def local_midnight(tenant: Tenant, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zoneinfo.ZoneInfo(tenant.time_zone))


def today_start(tenant: Tenant) -> dt.datetime:
    """The start of the tenant's current day (a dashboard's "today")."""
    now = timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone))
    return local_midnight(tenant, now.date())


class DateRangeForm(forms.Form):
    """`since` and `until` as whole days, both included; either may be left out."""

    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("The first day comes after the last.")
        return data

    def bounds(self, tenant: Tenant) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[start, end) instants of the chosen days; call only on a valid form."""
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        start = local_midnight(tenant, since) if since else None
        end = local_midnight(tenant, until + dt.timedelta(days=1)) if until else None
        return start, end
