"""The reminders summary on the tenant dashboard (the portal's "dashboard" slot)."""

import zoneinfo
from datetime import datetime, time, timedelta

from django.db.models import Count
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from reminders.models import Appointment, Attempt
from tenants.models import Tenant


def reminders_today(request: HttpRequest, *, tenant: Tenant) -> str:
    """Reminder calls due today (tenant's zone): still to make, and how the made ones ended."""
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    start = datetime.combine(timezone.localtime(timezone.now(), zone).date(), time(0), zone)
    end = start + timedelta(days=1)
    waiting = (
        Appointment.objects.for_tenant(tenant)
        .filter(next_attempt_at__gte=start, next_attempt_at__lt=end)
        .count()
    )
    attempts = Attempt.objects.for_tenant(tenant).filter(due_at__gte=start, due_at__lt=end)
    outcomes = (
        attempts.exclude(disposition="")
        .values("disposition")
        .annotate(count=Count("pk"))
        .order_by("-count", "disposition")
    )
    context = {
        "tenant": tenant,
        "waiting": waiting,
        "in_flight": attempts.filter(disposition="").count(),
        "outcomes": list(outcomes),
    }
    return render_to_string("portal/reminders/_today.html", context, request)
