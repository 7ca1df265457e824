"""The tenant's own piece of its dashboard: status, role, zone, endpoint, limits."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from tenants.models import Tenant


def facts(request: HttpRequest, *, tenant: Tenant) -> str:
    return render_to_string("portal/tenants/_dashboard.html", {"tenant": tenant}, request)
