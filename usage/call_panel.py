"""What a call cost, on the call's page in the portal (the "call_detail" slot)."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from tenants.models import Tenant
from usage import reports


def call_cost(request: HttpRequest, *, tenant: Tenant, call: object) -> str:
    context = {"figures": reports.call_usage(tenant, call.pk), "plan": tenant.rate_plan}
    return render_to_string("portal/usage/_call_cost.html", context, request)
