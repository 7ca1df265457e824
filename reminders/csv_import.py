"""CSV import of contacts and appointments, for the portal upload and the API.

Columns (header row, any order): external_id, name, phone, starts_at (ISO 8601 with an
offset, or local `YYYY-MM-DD HH:MM` read in the contact's zone), and optionally time_zone,
language, consent, provider, location, status. Every row is validated before anything is
written; with bad rows nothing is imported unless the import was asked to skip them.
Rows upsert by external_id (appointments) and phone (contacts), so a re-run is harmless.
"""

import csv
import io
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_q.tasks import async_task

from reminders import services
from reminders.models import Appointment, Contact, ImportJob, ReminderPlan
from tenants import audit
from tenants.audit import Actor, actor_label
from tenants.models import Tenant
from tenants.phone import normalize_e164

REQUIRED = ("external_id", "name", "phone", "starts_at")
OPTIONAL = ("time_zone", "language", "consent", "provider", "location", "status")
MAX_ROWS = 50_000
MAX_BYTES = 10 * 1024 * 1024
PROGRESS_EVERY = 200  # rows between progress writes
TRUE = {"1", "true", "yes", "y"}
FALSE = {"0", "false", "no", "n"}


@dataclass
class Row:
    number: int  # line in the file (the header is line 1)
    values: dict[str, Any]


def start_import(
    tenant: Tenant, *, actor: Actor, plan: ReminderPlan, content: str, skip_bad_rows: bool
) -> ImportJob:
    """Store the file and enqueue its import; the job shows progress and row errors.
    Raises ValidationError for a file that is not a CSV we can read at all."""
    if len(content.encode()) > MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_BYTES // 1024**2} MB."})
    header = next(csv.reader(io.StringIO(content)), None)
    missing = [c for c in REQUIRED if c not in [h.strip().lower() for h in header or []]]
    if missing:
        raise ValidationError({"file": f"The header must name the columns {', '.join(missing)}."})
    job = ImportJob.unscoped.create(
        tenant=tenant,
        plan=plan,
        content=content,
        skip_bad_rows=skip_bad_rows,
        created_by=actor_label(actor),
    )
    audit.record(
        tenant,
        actor=actor,
        action="import.start",
        target=job,
        after={"plan": plan.pk, "skip_bad_rows": skip_bad_rows},
    )
    transaction.on_commit(lambda: async_task("reminders.tasks.run_import", job.pk))
    return job


def run(job_id: int) -> str:
    """Validate every row, then (if clean, or skipping) upsert them. Idempotent."""
    job = ImportJob.unscoped.select_related("tenant", "plan").get(pk=job_id)
    if job.state not in (ImportJob.State.VALIDATING, ImportJob.State.IMPORTING):
        return job.state
    rows, errors = parse(job.tenant, job.content)
    job.total_rows = len(rows) + len({e["row"] for e in errors})
    job.errors = errors
    if errors and not job.skip_bad_rows:
        job.state = ImportJob.State.FAILED
        job.processed_rows = job.total_rows
        job.finished_at = timezone.now()
        job.content = ""
        job.save()
        return job.state
    job.state = ImportJob.State.IMPORTING
    job.processed_rows = len({e["row"] for e in errors})
    job.save()
    for start in range(0, len(rows), PROGRESS_EVERY):
        created, updated = _upsert(job, rows[start : start + PROGRESS_EVERY])
        job.created_count += created
        job.updated_count += updated
        job.processed_rows += len(rows[start : start + PROGRESS_EVERY])
        job.save(update_fields=["created_count", "updated_count", "processed_rows"])
    job.state = ImportJob.State.DONE
    job.finished_at = timezone.now()
    job.content = ""
    job.save()
    return job.state


def parse(tenant: Tenant, content: str) -> tuple[list[Row], list[dict]]:
    """Every row checked; returns the good rows and one error per bad field."""
    reader = csv.DictReader(io.StringIO(content))
    reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames or []]
    rows: list[Row] = []
    errors: list[dict] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            errors.append({"row": number, "field": "", "message": f"More than {MAX_ROWS} rows."})
            break
        values, row_errors = _clean(tenant, {k: (v or "").strip() for k, v in raw.items() if k})
        external_id = values.get("external_id")
        if external_id and external_id in seen:
            row_errors.append(_bad("external_id", external_id, f"repeats row {seen[external_id]}."))
        elif external_id:
            seen[external_id] = number
        if row_errors:
            errors += [{"row": number, "field": f, "message": m} for f, m in row_errors]
        else:
            rows.append(Row(number, values))
    return rows, errors


def _bad(column: str, value: str, problem: str) -> tuple[str, str]:
    """A row error that quotes the bad value, so the person finds it in their file:
    `phone "+1555" is not a valid phone number.`"""
    shown = value if len(value) <= 60 else value[:59] + "…"
    return column, f'{column} "{shown}" {problem}'


def _clean(tenant: Tenant, raw: dict[str, str]) -> tuple[dict, list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for column in REQUIRED:
        if not raw.get(column):
            errors.append((column, f"{column} is required."))
    if raw.get("external_id"):
        if len(raw["external_id"]) > 100:
            errors.append(_bad("external_id", raw["external_id"], "is over 100 characters."))
        values["external_id"] = raw["external_id"]
    values["name"] = raw.get("name", "")[:200]
    if raw.get("phone"):
        try:
            values["phone"] = normalize_e164(raw["phone"])
        except ValidationError as exc:
            # normalize_e164 names the value as repr(); the row error quotes it itself.
            problem = exc.messages[0].removeprefix(repr(raw["phone"])).strip()
            errors.append(_bad("phone", raw["phone"], problem))
    zone = raw.get("time_zone") or (
        services.default_zone(values["phone"], tenant) if "phone" in values else tenant.time_zone
    )
    if zone not in zoneinfo.available_timezones():
        errors.append(_bad("time_zone", zone, "is not an IANA time zone (e.g. Europe/Berlin)."))
        zone = tenant.time_zone
    values["time_zone"] = zone
    if raw.get("starts_at"):
        starts_at = _when(raw["starts_at"], zone)
        if starts_at is None:
            problem = "is not a date and time (2026-03-03T14:30-05:00 or 2026-03-03 14:30)."
            errors.append(_bad("starts_at", raw["starts_at"], problem))
        else:
            values["starts_at"] = starts_at
    values["language"] = raw.get("language") or "en-US"
    consent = (raw.get("consent") or "yes").lower()
    if consent not in TRUE | FALSE:
        errors.append(_bad("consent", raw["consent"], "is not yes or no."))
    values["consent"] = consent in TRUE
    values["provider"] = raw.get("provider", "")[:200]
    values["location"] = raw.get("location", "")[:200]
    status = raw.get("status") or Appointment.Status.SCHEDULED
    if status not in Appointment.Status.values:
        errors.append(
            _bad("status", status, f"is not one of {', '.join(Appointment.Status.values)}.")
        )
    values["status"] = status
    return values, errors


def _when(text: str, zone: str) -> datetime | None:
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return parsed


@transaction.atomic
def _upsert(job: ImportJob, rows: list[Row]) -> tuple[int, int]:
    tenant = job.tenant
    created = updated = 0
    for row in rows:
        v = row.values
        contact = Contact.objects.for_tenant(tenant).filter(phone=v["phone"]).first()
        contact = services.save_contact(
            tenant,
            actor=None,
            audit_it=False,
            contact=contact,
            name=v["name"],
            phone=v["phone"],
            time_zone=v["time_zone"],
            language=v["language"],
            consent=v["consent"],
        )
        _, was_created = services.save_appointment(
            tenant,
            actor=None,
            audit_it=False,
            external_id=v["external_id"],
            contact=contact,
            plan=job.plan,
            starts_at=v["starts_at"],
            provider=v["provider"],
            location=v["location"],
            status=v["status"],
        )
        created += was_created
        updated += not was_created
    return created, updated
