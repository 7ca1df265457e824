"""Portal pages that change one appointment (add, edit) and preview what a reminder call
says (a plan's prompt for a sample appointment, or an appointment's own)."""

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from carrier.media.play_sources import SourceError, load
from reminders import calling, services
from reminders.forms import AppointmentForm
from reminders.models import Appointment, Contact, ReminderPlan
from tenants.forms import form_error
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page


def _get(model: type, request: HttpRequest, pk: int) -> Appointment | ReminderPlan:
    found = model.objects.for_tenant(request.tenant).filter(pk=pk).first()
    if found is None:
        raise Http404("Not found.")
    return found


@tenant_page(write=Action.REMINDERS_EDIT)
def edit_appointment(request: HttpRequest, appointment_id: int | None = None) -> HttpResponse:
    """Add an appointment (no id) or change one: its contact (found or made by phone),
    start, plan, provider and location. Through services.save_contact/save_appointment,
    so it is audited and re-plans its reminders as the API's upsert does."""
    tenant = request.tenant
    found = _get(Appointment, request, appointment_id) if appointment_id else None
    form = AppointmentForm(request.POST or None, tenant=tenant, appointment=found)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        external_id = found.external_id if found else data["external_id"]
        external_id = external_id or f"portal-{uuid.uuid4().hex[:10]}"
        taken = Appointment.objects.for_tenant(tenant).filter(external_id=external_id).exists()
        if found is None and taken:
            form.add_error("external_id", f'"{external_id}" is another appointment\'s id.')
        else:
            try:
                saved = _save(request, data, external_id)
            except ValidationError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"Appointment {saved.external_id} saved.")
                return redirect("portal:reminder_appointment", tenant.slug, saved.pk)
    return render(
        request,
        "portal/reminders/edit_appointment.html",
        {"form": form, "appointment": found, "can_change": permits(request, Action.REMINDERS_EDIT)},
        status=400 if form.errors else 200,
    )


@transaction.atomic
def _save(request: HttpRequest, data: dict, external_id: str) -> Appointment:
    tenant = request.tenant
    contact = Contact.objects.for_tenant(tenant).filter(phone=data["phone"]).first()
    contact = services.save_contact(
        tenant,
        actor=request.user,
        contact=contact,
        name=data["name"],
        phone=data["phone"],
        time_zone=data["time_zone"],
    )
    appointment, _ = services.save_appointment(
        tenant,
        actor=request.user,
        external_id=external_id,
        contact=contact,
        plan=data["plan"],
        starts_at=data["starts_at"],
        provider=data["provider"],
        location=data["location"],
    )
    return appointment


def sample_appointment(plan: ReminderPlan) -> Appointment:
    """An unsaved appointment to render the plan's prompt with: tomorrow 09:30 in the
    tenant's zone, a made-up contact speaking the plan's language."""
    zone = ZoneInfo(plan.tenant.time_zone)
    tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
    contact = Contact(
        tenant=plan.tenant, name="Ann Lee", time_zone=zone.key, language=plan.language
    )
    return Appointment(
        tenant=plan.tenant,
        plan=plan,
        contact=contact,
        starts_at=datetime.combine(tomorrow, time(9, 30), tzinfo=zone),
        provider="Dr. Smith",
        location="Main Street clinic",
    )


def _spoken(appointment: Appointment) -> HttpResponse:
    """The appointment's prompt through the calls' own text-to-speech, as a WAV file."""
    try:
        audio = load(calling.prompt_source(appointment), tenant_id=appointment.tenant_id)
    except (SourceError, KeyError, IndexError, ValueError) as exc:
        # A template naming an unknown placeholder, or speech that failed to render.
        return HttpResponse(f"Cannot render the prompt: {exc}", status=422)
    response = HttpResponse(audio.to_wav(), content_type="audio/wav")
    response["Cache-Control"] = "private, no-cache"  # the plan or appointment may change
    return response


@tenant_page(write=None)
def plan_preview(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan's prompt for a sample appointment, spoken (the plans' play button)."""
    return _spoken(sample_appointment(_get(ReminderPlan, request, plan_id)))


@tenant_page(write=None)
def appointment_preview(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """The appointment's own prompt, spoken (its page's play button)."""
    return _spoken(_get(Appointment, request, appointment_id))
