"""Portal pages for recordings: list and play, download, delete, legal hold."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from callauto.errors import AcsError
from recordings import ranges, services
from recordings.filters import RecordingFilterForm, waiting_for_files
from recordings.models import Recording, RecordingChunk
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page
from tenants.portal.listing import filter_data, keyset_page, render_list


@tenant_page(write={"delete": Action.RECORDINGS_DELETE, "hold": Action.RECORDINGS_LEGAL_HOLD})
def recordings(request: HttpRequest) -> HttpResponse:
    """Everyone reads and plays; admins delete and set legal holds (tenants.permissions)."""
    tenant = request.tenant
    if request.method == "POST":
        return _action(request)
    form = RecordingFilterForm(filter_data(request))
    rows = Recording.objects.for_tenant(tenant).select_related("call").prefetch_related("chunks")
    if form.is_bound:
        rows = form.apply(rows, tenant) if form.is_valid() else rows.none()
    page = keyset_page(rows, request.GET, time_field="started_at", size=25)
    # `bare=1`: the call page's recordings panel polls this list without the buttons.
    bare = request.GET.get("bare") == "1"
    one_call = form.is_bound and form.is_valid() and form.cleaned_data.get("call")
    context = {
        "form": form,
        "page": page,
        "recordings": page.rows,
        # The newest page refreshes itself; one call's recordings only until their files
        # are ready (the panel on an ended call's page).
        "live": page.first and (not one_call or waiting_for_files(page.rows)),
        "bare": bare,
        "can_delete": permits(request, Action.RECORDINGS_DELETE) and not bare,
        "can_hold": permits(request, Action.RECORDINGS_LEGAL_HOLD) and not bare,
        "retention_days": tenant.recording_retention_days,
    }
    return render_list(
        request,
        "portal/recordings/recordings.html",
        "portal/recordings/_recording_rows.html",
        context,
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
