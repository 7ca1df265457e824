"""On a call's page, the appointment the call reminded of (the portal's "call_facts" slot)."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from reminders.models import Attempt
from tenants.models import Tenant


def call_appointment(request: HttpRequest, *, tenant: Tenant, call: object) -> str:
    attempt = (
        Attempt.objects.for_tenant(tenant)
        .filter(server_call_id=call.server_call_id)  # type: ignore[attr-defined]
        .select_related("appointment", "appointment__plan", "appointment__contact")
        .first()
    )
    if attempt is None:
        return ""
    return render_to_string(
        "portal/reminders/_call_appointment.html", {"attempt": attempt, "tenant": tenant}, request
    )
