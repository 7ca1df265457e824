"""The notifications piece of the tenant dashboard (the portal's "dashboard" slot): where
an operator looks first in an emergency, so "New notification" is here, with whatever is
running now (each linking to its live page)."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from notifications.models import Notification
from tenants.models import Tenant
from tenants.permissions import Action
from tenants.portal.access import permits

LIVE = (Notification.Status.SCHEDULED, Notification.Status.RUNNING, Notification.Status.PAUSED)


def notifications_now(request: HttpRequest, *, tenant: Tenant) -> str:
    can_edit = permits(request, Action.NOTIFICATIONS_EDIT)
    live = list(Notification.objects.for_tenant(tenant).filter(status__in=LIVE)[:5])
    if not can_edit and not live:
        return ""
    context = {"tenant": tenant, "live": live, "can_edit": can_edit}
    return render_to_string("portal/notifications/_dashboard.html", context, request)
