"""A call's recordings, on the call's page in the portal (the "call_detail" slot)."""

from urllib.parse import urlencode

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from recordings.filters import waiting_for_files
from recordings.models import Recording
from tenants.models import Tenant


def call_recordings(request: HttpRequest, *, tenant: Tenant, call: object) -> str:
    recordings = list(
        Recording.objects.for_tenant(tenant)
        .filter(call=call)
        .prefetch_related("chunks")
        .order_by("-started_at", "-pk")
    )
    # Until every file is ready, the rows refresh from the Recordings page filtered to
    # this call (static/portal/live_list.js), also after the call has ended.
    query = urlencode({"call": call.server_call_id, "bare": 1, "live": 1})  # type: ignore[attr-defined]
    context = {
        "recordings": recordings,
        "tenant": tenant,
        "call": call,
        "live": waiting_for_files(recordings),
        "live_url": f"{reverse('portal:recordings', args=[tenant.slug])}?{query}",
    }
    return render_to_string("portal/recordings/_call_recordings.html", context, request)
