"""Portal pages for recordings: list and play, download, delete, legal hold."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from callauto.errors import AcsError
from recordings import ranges, services
from recordings.models import Recording, RecordingChunk
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page


@tenant_page(write={"delete": Action.RECORDINGS_DELETE, "hold": Action.RECORDINGS_LEGAL_HOLD})
def recordings(request: HttpRequest) -> HttpResponse:
    """Everyone reads and plays; admins delete and set legal holds (tenants.permissions)."""
    tenant = request.tenant
    if request.method == "POST":
        return _action(request)
    rows = (
        Recording.objects.for_tenant(tenant)
        .select_related("call")
        .prefetch_related("chunks")
        .order_by("-started_at")
    )
    server_call = request.GET.get("call", "").strip()
    if server_call:
        rows = rows.filter(call__server_call_id=server_call)
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/recordings/recordings.html",
        {
            "page": page,
            "server_call": server_call,
            "can_delete": permits(request, Action.RECORDINGS_DELETE),
            "can_hold": permits(request, Action.RECORDINGS_LEGAL_HOLD),
            "retention_days": tenant.recording_retention_days,
        },
    )


def _action(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    recording = (
        Recording.objects.for_tenant(tenant)
        .filter(recording_id=request.POST.get("recording", ""))
        .first()
    )
    if recording is None:
        raise Http404("No such recording.")
    try:
        if "delete" in request.POST:
            services.delete_recording(tenant, recording, actor=request.user)
            messages.success(request, "Recording deleted.")
        elif "hold" in request.POST:
            held = request.POST["hold"] == "on"
            services.set_legal_hold(tenant, recording, held=held, actor=request.user)
            messages.success(request, "Legal hold set." if held else "Legal hold lifted.")
    except AcsError as exc:
        messages.error(request, str(exc.detail))
    return redirect(request.get_full_path())


@tenant_page(write=None)
@require_GET
def chunk_file(request: HttpRequest, document_id: str) -> HttpResponse:
    """The file for the browser's audio player and downloads (Range honoured, so seeking
    works)."""
    chunk = (
        RecordingChunk.objects.for_tenant(request.tenant)
        .select_related("recording")
        .filter(document_id=document_id)
        .first()
    )
    if chunk is None:
        raise Http404("No such recording file.")
    response = ranges.serve_chunk(request, chunk)
    if request.GET.get("download"):
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "inline", "attachment"
        )
    return response
