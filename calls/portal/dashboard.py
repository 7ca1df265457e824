"""The calls app's pieces of the tenant dashboard (portal slots), each one aggregate query."""

import datetime as dt

from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from calls.models import Call
from tenants.models import Tenant
from tenants.portal.dates import today_start


def figures(tenant: Tenant) -> dict:
    """Calls active now, today's calls and talk minutes, today's outcomes.

    "Today" is the tenant's calendar day. Talk time runs from connection to end (or now,
    for calls still connected).
    """
    since = today_start(tenant)
    calls = Call.objects.for_tenant(tenant)
    today = calls.filter(created_at__gte=since)
    now = Value(timezone.now(), output_field=DateTimeField())
    talk = ExpressionWrapper(
        Coalesce(F("ended_at"), now) - F("connected_at"), output_field=DurationField()
    )
    totals = today.aggregate(
        count=Count("pk"), talk=Sum(talk, filter=Q(connected_at__isnull=False))
    )
    outcomes = (
        today.values("state", "end_code", "end_message")
        .annotate(count=Count("pk"))
        .order_by("-count", "state", "end_code")
    )
    return {
        "today": since.date(),
        "active_calls": calls.exclude(state=Call.State.DISCONNECTED).count(),
        "calls_today": totals["count"],
        "minutes_today": round((totals["talk"] or dt.timedelta()).total_seconds() / 60, 1),
        "outcomes": list(outcomes),
    }


def _figures_once(request: HttpRequest, tenant: Tenant) -> dict:
    # Both pieces show the same figures: count them once per page.
    if not hasattr(request, "_calls_dashboard"):
        request._calls_dashboard = figures(tenant)  # type: ignore[attr-defined]
    return request._calls_dashboard  # type: ignore[attr-defined]


def cards(request: HttpRequest, *, tenant: Tenant) -> str:
    context = _figures_once(request, tenant)
    return render_to_string("portal/calls/_dashboard_cards.html", context, request)


def outcomes(request: HttpRequest, *, tenant: Tenant) -> str:
    context = _figures_once(request, tenant)
    return render_to_string("portal/calls/_dashboard_outcomes.html", context, request)
