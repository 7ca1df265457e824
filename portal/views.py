"""The shell's own pages: where a user lands, and a tenant's dashboard."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tenants.models import Membership
from tenants.portal.access import tenant_page
from tenants.portal.listing import render_list


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their first tenant; a user with none sees an explanation."""
    first = (
        Membership.unscoped.filter(user=request.user)
        .select_related("tenant")
        .order_by("tenant__name")
        .first()
    )
    if first is None:
        return render(request, "portal/no_tenant.html")
    return redirect("portal:dashboard", tenant_slug=first.tenant.slug)


@tenant_page(write=None)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The tenant at a glance: each app's dashboard pieces (the "dashboard" slot), live:
    `?live=1` answers the pieces only (static/portal/live_list.js swaps them in)."""
    return render_list(request, "portal/dashboard.html", "portal/_dashboard_live.html", {})
