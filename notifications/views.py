"""Portal pages of the notifications app: notifications, their preview and two-step
launch, the live progress page (polled partial), CSV export; audiences with CSV upload."""

import csv
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render

from carrier.media import play_sources
from carrier.media.audio import Audio, concat
from carrier.media.play_sources import SourceError
from notifications import audiences, audio, progress, services
from notifications.calling import message_sources
from notifications.forms import AudienceForm, NotificationForm, UploadForm
from notifications.models import Audience, Notification, Recipient
from tenants.forms import form_error
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page

S = Notification.Status
EDIT = Action.NOTIFICATIONS_EDIT
LAUNCH = Action.NOTIFICATIONS_LAUNCH
LIVE = {S.SCHEDULED, S.RUNNING, S.PAUSED}


def _get(model: type, request: HttpRequest, pk: int) -> Any:
    try:
        return model.objects.for_tenant(request.tenant).get(pk=pk)
    except model.DoesNotExist:
        raise Http404("Not found.") from None


@tenant_page(write=None)
def notifications(request: HttpRequest) -> HttpResponse:
    rows = Notification.objects.for_tenant(request.tenant).select_related("audience")[:200]
    return render(
        request,
        "portal/notifications/list.html",
        {"notifications": rows, "can_edit": permits(request, EDIT)},
    )


@tenant_page(write=EDIT)
def edit_notification(request: HttpRequest, notification_id: int | None = None) -> HttpResponse:
    """Create (no id) or change a draft notification."""
    tenant = request.tenant
    found = _get(Notification, request, notification_id) if notification_id else None
    if found is not None and found.status != S.DRAFT:
        messages.error(request, "A launched notification cannot be changed.")
        return redirect("portal:notification", tenant.slug, found.pk)
    form = NotificationForm(
        request.POST or None,
        request.FILES or None,
        tenant=tenant,
        instance=found or Notification(tenant=tenant),
        initial={"caller_ids": list(found.caller_ids.all())} if found else {},
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("audio_upload")
        try:
            with transaction.atomic():  # the notification, its audience and WAV, or none
                fields = form.notification_fields()
                if zones := form.zone_list():
                    fields["audience"] = _zones_audience(tenant, request, fields["name"], zones)
                saved = services.save_notification(
                    tenant, actor=request.user, notification=found, uploading=bool(upload),
                    **fields,
                )  # fmt: skip
                if upload:
                    audio.attach(tenant, saved.pk, upload.read(audio.MAX_BYTES + 1),
                                 name=upload.name, actor=request.user)  # fmt: skip
                elif form.cleaned_data.get("remove_audio"):
                    audio.detach(tenant, saved.pk, actor=request.user)
        except ValidationError as exc:
            form_error(form, _upload_errors(exc))
        else:
            messages.success(request, f"Notification “{saved.name}” saved.")
            return redirect("portal:notification", tenant.slug, saved.pk)
    return render(request, "portal/notifications/edit.html", {"form": form, "notification": found})


def _zones_audience(tenant: Any, request: HttpRequest, name: str, zones: list[str]) -> Audience:
    """The audience of the zones typed on the form: an existing one with exactly these
    areas, else a new one named after them."""
    for audience in Audience.objects.for_tenant(tenant).filter(everyone=False, tags=[]):
        if sorted(audience.areas) == sorted(zones) and not audience.members.exists():
            return audience
    title = f"Zones {', '.join(sorted(zones))}"[:90]
    taken = Audience.objects.for_tenant(tenant).filter(name=title).exists()
    return services.save_audience(
        tenant, actor=request.user, name=f"{title} ({name})"[:100] if taken else title,
        areas=zones,
    )  # fmt: skip


def _upload_errors(exc: ValidationError) -> ValidationError:
    # audio's errors name the API's `file`; on the form it is the upload field.
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError(
        {("audio_upload" if k == "file" else k): v for k, v in exc.message_dict.items()}
    )


@tenant_page(write={"pause": LAUNCH, "resume": LAUNCH, "cancel": LAUNCH})
def notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """A draft's preview, or a launched notification's live progress and controls."""
    tenant = request.tenant
    found = _get(Notification, request, notification_id)
    if request.method == "POST":
        verbs = {"pause": services.pause, "resume": services.resume}
        try:
            if "cancel" in request.POST:
                services.cancel(
                    tenant, found.pk, actor=request.user, hang_up="hang_up" in request.POST
                )
            else:
                verb = next((v for k, v in verbs.items() if k in request.POST), None)
                if verb is None:
                    raise services.InvalidTransition("Nothing to do.")
                verb(tenant, found.pk, actor=request.user)
        except services.InvalidTransition as exc:
            messages.error(request, str(exc))
        return redirect("portal:notification", tenant.slug, found.pk)
    context: dict[str, Any] = {
        "notification": found,
        "can_edit": permits(request, EDIT),
        "can_launch": permits(request, LAUNCH),
        "pool": services.caller_pool(found),
    }
    if found.status == S.DRAFT:
        context["preview"] = services.preview(found)
    else:
        context.update(_live_context(found))
    return render(request, "portal/notifications/detail.html", context)


def _live_context(found: Notification) -> dict[str, Any]:
    data = progress.progress(found)
    return {
        "p": data,
        "live": found.status in LIVE,
        "reached_points": progress.chart_svg_points(data["chart"], "reached"),
        "acked_points": progress.chart_svg_points(data["chart"], "acknowledged"),
    }


@tenant_page(write=None)
def live(request: HttpRequest, notification_id: int) -> HttpResponse:
    """The progress partial the page polls every 2 s while the notification is live."""
    found = _get(Notification, request, notification_id)
    return render(
        request,
        "portal/notifications/_live.html",
        {"notification": found, **_live_context(found)},
    )


@tenant_page(write=LAUNCH)
def launch(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Step two of a launch: the audience size, what life-safety changes, the ETA; the
    POST launches."""
    tenant = request.tenant
    found = _get(Notification, request, notification_id)
    if request.method == "POST":
        try:
            services.launch(tenant, found.pk, actor=request.user)
        except services.InvalidTransition as exc:
            messages.error(request, str(exc))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("portal:notification", tenant.slug, found.pk)
        else:
            messages.success(request, f"“{found.name}” launched.")
        return redirect("portal:notification", tenant.slug, found.pk)
    if found.status != S.DRAFT:
        return redirect("portal:notification", tenant.slug, found.pk)
    return render(
        request,
        "portal/notifications/launch.html",
        {"notification": found, "preview": services.preview(found)},
    )


@tenant_page(write=None)
def prompt_audio(request: HttpRequest, notification_id: int) -> HttpResponse:
    """The rendered prompt for the audience's first contact, as the callee hears it."""
    found = _get(Notification, request, notification_id)
    first = audiences.first_rows(found.audience, life_safety=found.life_safety, limit=1)
    person = Recipient(
        name=first[0].name if first else "",
        area=first[0].area if first else "",
        language=first[0].language if first else "",
    )
    uploaded = audio.url(found) if found.audio_token else None
    try:
        sounds = [
            # The upload from storage (not over HTTP from ourselves, as the engine does).
            Audio.from_wav(audio.read(found))
            if source.kind == "file" and source.uri == uploaded
            else play_sources.load(source, tenant_id=request.tenant.pk)
            for source in message_sources(found, person, with_keys=True)
        ]
    except (SourceError, OSError):
        raise Http404("The prompt cannot be rendered.") from None
    response = HttpResponse(concat(*sounds).to_wav(), content_type="audio/wav")
    response["Cache-Control"] = "private, no-cache"
    return response


class _Echo:
    """csv.writer's file: hands each formatted line back instead of buffering it."""

    def write(self, value: str) -> str:
        return value


EXPORT_COLUMNS = ["name", "phone", "area", "state", "disposition", "rounds", "calls",
                  "acknowledged_at", "finished_at", "overrides_suppression"]  # fmt: skip


@tenant_page(write=None)
def export(request: HttpRequest, notification_id: int) -> StreamingHttpResponse:
    """Every recipient's outcome as CSV (one row per contact), streamed: 10,000 households
    are read through one server-side cursor and sent as they come, never held whole."""
    found = _get(Notification, request, notification_id)
    rows = (
        Recipient.objects.for_tenant(request.tenant)
        .filter(notification=found)
        .order_by("pk")
        .values_list("name", "phone", "area", "state", "disposition", "round", "dial_count",
                     "acknowledged_at", "finished_at", "overrides_suppression")
    )  # fmt: skip
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(EXPORT_COLUMNS)
        for *facts, acknowledged, finished, overrides in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                [*facts, acknowledged.isoformat() if acknowledged else "",
                 finished.isoformat() if finished else "", overrides]
            )  # fmt: skip

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="notification-{found.pk}.csv"'
    return response


@tenant_page(write=EDIT)
def audience_list(request: HttpRequest) -> HttpResponse:
    """The tenant's audiences, each with its live count; a form for a new one."""
    tenant = request.tenant
    form = AudienceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_audience(tenant, actor=request.user, **form.audience_fields())
        except ValidationError as exc:
            form_error(form, exc)
        else:
            return redirect("portal:notification_audience", tenant.slug, saved.pk)
    rows = [(a, audiences.count(a)) for a in Audience.objects.for_tenant(tenant)[:100]]
    return render(
        request,
        "portal/notifications/audiences.html",
        {"rows": rows, "form": form, "can_edit": permits(request, EDIT)},
    )


@tenant_page(write=EDIT)
def audience(request: HttpRequest, audience_id: int) -> HttpResponse:
    """One audience: its filter (editable), live count, first rows and a CSV upload."""
    tenant = request.tenant
    found = _get(Audience, request, audience_id)
    form = AudienceForm(
        request.POST if "save" in request.POST else None,
        initial={
            "name": found.name,
            "tags": ", ".join(found.tags),
            "areas": ", ".join(found.areas),
            "everyone": found.everyone,
        },
    )
    upload = UploadForm(
        request.POST if "upload" in request.POST else None,
        request.FILES if "upload" in request.POST else None,
    )
    if request.method == "POST":
        try:
            if "save" in request.POST and form.is_valid():
                services.save_audience(
                    tenant, actor=request.user, audience=found, **form.audience_fields()
                )
                return redirect("portal:notification_audience", tenant.slug, found.pk)
            if "upload" in request.POST and upload.is_valid():
                content = upload.cleaned_data["file"].read().decode("utf-8-sig")
                with transaction.atomic():
                    added = audiences.upload_csv(tenant, found, content, actor=request.user)
                messages.success(request, f"{added} contacts added to the list.")
                return redirect("portal:notification_audience", tenant.slug, found.pk)
        except UnicodeDecodeError:
            upload.add_error("file", "The file is not UTF-8 text.")
        except ValidationError as exc:
            form_error(upload if "upload" in request.POST else form, exc)
    return render(
        request,
        "portal/notifications/audience.html",
        {
            "audience": found,
            "form": form,
            "upload": upload,
            "count": audiences.count(found),
            "first_rows": audiences.first_rows(found, life_safety=False),
            "can_edit": permits(request, EDIT),
        },
    )
