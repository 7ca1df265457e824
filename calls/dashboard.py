"""The figures on a tenant's dashboard, each one aggregate query."""

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
from django.utils import timezone

from calls.models import Call, Delivery
from tenants.models import Tenant
from tenants.portal.dates import today_start

D = Delivery.State


def figures(tenant: Tenant) -> dict:
    """Calls active now, today's calls and talk minutes, today's outcomes, callback health
    over the last 24 hours.

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
    # Callback health over the last 24 hours, so a delivery that died at 23:59 is still
    # on the dashboard at 00:01.
    recent = Delivery.objects.for_tenant(tenant).filter(
        created_at__gte=timezone.now() - dt.timedelta(hours=24)
    )
    health = dict(recent.values_list("state").annotate(count=Count("pk")).order_by())
    return {
        "today": since.date(),
        "active_calls": calls.exclude(state=Call.State.DISCONNECTED).count(),
        "calls_today": totals["count"],
        "minutes_today": round((totals["talk"] or dt.timedelta()).total_seconds() / 60, 1),
        "outcomes": list(outcomes),
        "callbacks": {
            "delivered": health.get(D.DELIVERED, 0),
            "retrying": health.get(D.RETRYING, 0),
            "dead": health.get(D.DEAD, 0),
        },
    }
