"""A call's recordings, on the call's page in the portal (the "call_detail" slot)."""

from django.http import HttpRequest
from django.template.loader import render_to_string

from recordings.models import Recording
from tenants.models import Tenant


def call_recordings(request: HttpRequest, *, tenant: Tenant, call: object) -> str:
    recordings = Recording.objects.for_tenant(tenant).filter(call=call).order_by("pk")
    context = {"recordings": recordings, "tenant": tenant, "call": call}
    return render_to_string("portal/recordings/_call_recordings.html", context, request)
