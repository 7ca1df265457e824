"""The outbox's piece of the tenant dashboard: callback health over the last 24 hours."""

import datetime as dt

from django.db.models import Count
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from tenants.models import Tenant
from webhooks.models import Delivery

D = Delivery.State


def callback_health(request: HttpRequest, *, tenant: Tenant) -> str:
    # The last 24 hours, so a delivery that died at 23:59 is still on the dashboard at 00:01.
    recent = Delivery.objects.for_tenant(tenant).filter(
        created_at__gte=timezone.now() - dt.timedelta(hours=24)
    )
    health = dict(recent.values_list("state").annotate(count=Count("pk")).order_by())
    callbacks = {
        "delivered": health.get(D.DELIVERED, 0),
        "retrying": health.get(D.RETRYING, 0),
        "dead": health.get(D.DEAD, 0),
    }
    return render_to_string(
        "portal/webhooks/_dashboard_card.html", {"callbacks": callbacks, "tenant": tenant}, request
    )
