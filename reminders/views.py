"""Portal pages of the reminders app: plans, appointments and their calls, CSV import,
the report."""

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from calls.models import Call
from reminders import calling, csv_import, dispatcher, services
from reminders.filters import AppointmentFilterForm, with_call_counts
from reminders.forms import ImportForm, PlanForm
from reminders.models import Appointment, Attempt, Disposition, ImportJob, ReminderPlan
from tenants.forms import form_error
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page
from tenants.portal.listing import filter_data, keyset_page, render_list

D = Disposition


def _get(model: type, request: HttpRequest, pk: int) -> Any:
    try:
        return model.objects.for_tenant(request.tenant).get(pk=pk)
    except model.DoesNotExist:
        raise Http404("Not found.") from None


@tenant_page(write=None)
def plans(request: HttpRequest) -> HttpResponse:
    rows = ReminderPlan.objects.for_tenant(request.tenant).annotate(
        appointment_count=Count("appointments")
    )
    return render(
        request,
        "portal/reminders/plans.html",
        {
            "plans": rows,
            "can_change": permits(request, Action.REMINDERS_EDIT),
        },
    )


@tenant_page(write=Action.REMINDERS_EDIT)
def edit_plan(request: HttpRequest, plan_id: int | None = None) -> HttpResponse:
    """Create (no id) or change a reminder plan."""
    tenant = request.tenant
    plan = _get(ReminderPlan, request, plan_id) if plan_id else None
    form = PlanForm(request.POST or None, tenant=tenant, plan=plan)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_plan(tenant, actor=request.user, plan=plan, **form.plan_fields())
        except ValidationError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"Plan “{saved.name}” saved.")
            return redirect("portal:reminder_plans", tenant_slug=tenant.slug)
    return render(
        request,
        "portal/reminders/edit_plan.html",
        {
            "form": form,
            "plan": plan,
            "can_change": permits(request, Action.REMINDERS_EDIT),
        },
    )


@tenant_page(write=None)
def appointments(request: HttpRequest) -> HttpResponse:
    """Appointments, latest start first (keyset on starts_at, pk), filtered by the query
    string; `?live=1` answers the newest page's rows only."""
    tenant = request.tenant
    form = AppointmentFilterForm(filter_data(request), tenant=tenant)
    rows = Appointment.objects.for_tenant(tenant).select_related("contact", "plan")
    if form.is_bound:
        rows = form.apply(rows) if form.is_valid() else rows.none()
    page = keyset_page(with_call_counts(rows, tenant), request.GET, time_field="starts_at")
    return render_list(
        request,
        "portal/reminders/appointments.html",
        "portal/reminders/_appointment_rows.html",
        {"page": page, "form": form, "can_change": permits(request, Action.REMINDERS_EDIT)},
    )


@tenant_page(write={"cancel": Action.REMINDERS_EDIT, "call_now": Action.REMINDERS_DISPATCH})
def appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """One appointment with every call made for it and what each call heard; cancel it,
    or call now (the dispatcher places the next reminder at once, by the plan's rules)."""
    found = _get(Appointment, request, appointment_id)
    if request.method == "POST" and "cancel" in request.POST:
        services.cancel_appointment(request.tenant, found.pk, actor=request.user)
        messages.success(request, "Appointment cancelled; no more reminders.")
        return redirect("portal:reminder_appointment", request.tenant.slug, found.pk)
    if request.method == "POST" and "call_now" in request.POST:
        try:
            services.call_now(request.tenant, found.pk, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            placed = dispatcher.tick(request.tenant)  # now, not at the next dispatcher turn
            messages.success(
                request,
                "Calling now."
                if placed
                else "Due now: the dispatcher calls within the "
                "plan's calling hours and the tenant's pace.",
            )
        return redirect("portal:reminder_appointment", request.tenant.slug, found.pk)
    attempts = list(found.attempts.order_by("reminder_index", "attempt_number"))
    # Attempts know their call by serverCallId; the portal links to it by our pk.
    calls = dict(
        Call.objects.for_tenant(request.tenant)
        .filter(server_call_id__in=[a.server_call_id for a in attempts if a.server_call_id])
        .values_list("server_call_id", "pk")
    )
    for attempt in attempts:
        attempt.call_pk = calls.get(attempt.server_call_id)
    return render(
        request,
        "portal/reminders/appointment.html",
        {
            "appointment": found,
            "attempts": attempts,
            "can_change": permits(request, Action.REMINDERS_EDIT),
            "can_call": permits(request, Action.REMINDERS_DISPATCH),
            "prompt": _prompt(found),
        },
    )


def _prompt(appointment: Appointment) -> str:
    """What the reminder call says, or why it cannot (a placeholder the plan lacks)."""
    try:
        return calling.prompt_text(appointment)
    except (KeyError, IndexError, ValueError) as exc:
        return f"(the plan's prompt cannot be rendered: {exc})"


@tenant_page(write=Action.REMINDERS_EDIT)
def imports(request: HttpRequest) -> HttpResponse:
    """Upload a CSV of contacts and appointments; the import runs in the background."""
    tenant = request.tenant
    form = ImportForm(request.POST or None, request.FILES or None, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        try:
            content = form.cleaned_data["file"].read().decode("utf-8-sig")
            with transaction.atomic():
                job = csv_import.start_import(
                    tenant,
                    actor=request.user,
                    plan=form.cleaned_data["plan"],
                    content=content,
                    skip_bad_rows=form.cleaned_data["skip_bad_rows"],
                )
        except UnicodeDecodeError:
            form.add_error("file", "The file is not UTF-8 text.")
        except ValidationError as exc:
            form_error(form, exc)
        else:
            return redirect("portal:reminder_import", tenant_slug=tenant.slug, job_id=job.pk)
    jobs = ImportJob.objects.for_tenant(tenant).defer("content")[:20]
    return render(request, "portal/reminders/imports.html", {"form": form, "jobs": jobs})


@tenant_page(write=None)
def import_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """An import's progress (the page refreshes itself while it runs) and row errors."""
    job = _get(ImportJob, request, job_id)
    running = job.state in (ImportJob.State.VALIDATING, ImportJob.State.IMPORTING)
    return render(request, "portal/reminders/import_job.html", {"job": job, "running": running})


def _rates(rows: list[dict]) -> list[dict]:
    for row in rows:
        total = row["total"] or 1
        for name in ("confirmed", "cancelled", "no_answer"):
            row[f"{name}_rate"] = round(100 * row[name] / total)
    return rows


@tenant_page(write=None)
def report(request: HttpRequest) -> HttpResponse:
    """Confirm, cancel and no-answer rates of the finished calls, by plan and by day
    (days in the tenant's zone), over the last 30 days."""
    tenant = request.tenant
    since = timezone.now() - timedelta(days=30)
    calls = (
        Attempt.objects.for_tenant(tenant)
        .filter(state=Attempt.State.ENDED, ended_at__gte=since)
        .exclude(disposition__in=[D.SUPPRESSED, D.OUTSIDE_WINDOW])
    )
    counts = {
        "total": Count("pk"),
        "confirmed": Count("pk", filter=Q(disposition=D.CONFIRMED)),
        "cancelled": Count("pk", filter=Q(disposition=D.CANCELLED)),
        "no_answer": Count("pk", filter=Q(disposition=D.NO_ANSWER)),
    }
    by_plan = (
        calls.values("appointment__plan__name")
        .annotate(**counts)
        .order_by("appointment__plan__name")
    )
    day = TruncDate("ended_at", tzinfo=ZoneInfo(tenant.time_zone))
    by_day = calls.annotate(day=day).values("day").annotate(**counts).order_by("-day")
    return render(
        request,
        "portal/reminders/report.html",
        {
            "by_plan": _rates(list(by_plan)),
            "by_day": _rates(list(by_day)),
            "since": since,
        },
    )


# Every column the import reads, with a row a person can copy and edit.
SAMPLE_CSV = (
    "external_id,name,phone,starts_at,time_zone,language,consent,provider,location,status\r\n"
    "A-1001,Ann Lee,+14255550123,2026-12-24 09:30,America/New_York,en,yes,Dr. Smith,"
    "Main Street clinic,scheduled\r\n"
)


@tenant_page(write=None)
def sample_csv(request: HttpRequest) -> HttpResponse:
    """A CSV to start an import from: the header row the import expects and one example."""
    response = HttpResponse(SAMPLE_CSV, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="appointments-sample.csv"'
    return response
