"""Reminder campaigns: contacts, appointments, plans, attempts (one dialled call each) and
the do-not-call list. A service application on the engine: it knows calls only by the
ids create_call returns and the CloudEvents it receives."""

from datetime import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns import records
from tenants.managers import TenantManager
from tenants.models import PhoneNumber, Tenant, validate_time_zone


class Disposition(models.TextChoices):
    """How an attempt ended: signalling, keypad and hang-up folded into one answer."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"
    OPTED_OUT = "opted-out"
    NO_INPUT = "no-input"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    DECLINED = "declined"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    OUTSIDE_WINDOW = "outside-window"


def default_retry_policy() -> dict[str, dict[str, int]]:
    """Per disposition: wait this many minutes, at most this many more attempts.
    Dispositions not listed stop the reminder (voicemail, confirmed, cancelled, opted-out)."""
    return {
        Disposition.NO_ANSWER: {"delay_minutes": 60, "max_retries": 2},
        Disposition.BUSY: {"delay_minutes": 10, "max_retries": 2},
        Disposition.FAILED: {"delay_minutes": 10, "max_retries": 1},
    }


def default_offsets() -> list[int]:
    return [24 * 60, 2 * 60]


def default_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4, 5]  # Monday..Saturday (Python's weekday())


DEFAULT_PROMPT = (
    "Hello {name}. This is a reminder of your appointment with {provider} at {location} "
    "on {when}. Press 1 to confirm, 2 to cancel, 3 to speak to the office, "
    "9 to stop these calls, or star to hear this again."
)
PLACEHOLDERS = ("name", "when", "provider", "location")


def validate_prompt(value: str) -> None:
    try:
        value.format(**dict.fromkeys(PLACEHOLDERS, ""))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationError(
            f"The prompt may only use the placeholders {{{'}, {'.join(PLACEHOLDERS)}}}: {exc}"
        ) from exc


class Contact(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=16)
    # IANA zone; defaults from the number's region (phonenumbers), else the tenant's.
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    language = models.CharField(max_length=16, default="en-US")
    # Consent to automated calls; without it the contact is never dialled.
    consent = models.BooleanField(default=True)
    external_id = models.CharField(max_length=100, blank=True)
    # Notification audiences select on these (notifications.audiences). Tags are kept as
    # ",a,b," so "has tag a" is one LIKE that works on PostgreSQL and SQLite alike.
    tags = models.CharField(max_length=500, blank=True, default="")
    # The service address / zone: a free-text area, postal code or zone code.
    area = models.CharField(max_length=100, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "phone"], name="contact_phone_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~Q(external_id=""),
                name="contact_external_id_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone})"

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    @staticmethod
    def stored_tags(tags: list[str] | str) -> str:
        """Tags as stored: lower-case, trimmed, unique, sorted, wrapped in commas."""
        if isinstance(tags, str):
            tags = tags.replace(";", ",").split(",")
        clean = sorted({t.strip().lower() for t in tags if t and t.strip()})
        return f",{','.join(clean)}," if clean else ""


class ReminderPlan(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    # Minutes before the appointment, one reminder each (e.g. 1440 and 120).
    offsets_minutes = models.JSONField(default=default_offsets)
    window_start = models.TimeField(default=time(9, 0))
    window_end = models.TimeField(default=time(20, 0))
    weekdays = models.JSONField(default=default_weekdays)
    caller_id = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="+")
    prompt_template = models.TextField(default=DEFAULT_PROMPT, validators=[validate_prompt])
    voice = models.CharField(
        max_length=16, default="female", choices=[("female", "female"), ("male", "male")]
    )
    language = models.CharField(max_length=16, default="en-US")
    retry_policy = models.JSONField(default=default_retry_policy)
    # Attempts per reminder, the first call included.
    max_attempts = models.PositiveIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    # Who "press 3" adds to the call; empty: 3 is not offered.
    office_number = models.CharField(max_length=16, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="plan_name_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def offsets(self) -> list[int]:
        """Offsets earliest reminder first (largest offset first)."""
        return sorted((int(m) for m in self.offsets_minutes), reverse=True)

    def retry_rule(self, disposition: str) -> dict[str, int] | None:
        rule = (self.retry_policy or {}).get(disposition)
        return rule if rule and int(rule.get("max_retries", 0)) > 0 else None


class Appointment(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"
        RESCHEDULE_REQUESTED = "reschedule-requested"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="appointments")
    plan = models.ForeignKey(ReminderPlan, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    provider = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SCHEDULED)
    external_id = models.CharField(max_length=100)
    # The next call this appointment is due for: reminder index, attempt number, time.
    # Null time: nothing is due (all done, or a call is in flight).
    next_reminder_index = models.PositiveIntegerField(default=0)
    next_attempt_number = models.PositiveIntegerField(default=1)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], name="appointment_external_id_per_tenant"
            )
        ]
        indexes = [
            # The dispatcher's query: what is due, oldest first, per tenant.
            models.Index(
                fields=["tenant", "next_attempt_at"],
                condition=Q(next_attempt_at__isnull=False),
                name="appointment_due",
            ),
            # Keyset paging of the portal list (tenants.portal.listing), latest start first.
            models.Index(fields=["tenant", "-starts_at", "-id"], name="appointment_tenant_keyset"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} at {self.starts_at:%Y-%m-%d %H:%M} UTC"


# Kept under this name: migrations refer to it.
new_callback_token = records.new_callback_token


class Attempt(records.CallRecord):
    """One reminder call (or a decision not to call), and everything heard about it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="attempts")
    reminder_index = models.PositiveIntegerField()
    attempt_number = models.PositiveIntegerField()
    disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True)
    # The call-flow step (reminders.flow); menu silences and replays so far.
    step = models.CharField(max_length=16, default="dialing")
    silences = models.PositiveIntegerField(default=0)
    replays = models.PositiveIntegerField(default=0)
    server_call_id = models.CharField(max_length=64, blank=True)
    due_at = models.DateTimeField()
    dialed_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Dispatch is exactly-once: a second dispatcher (or a re-issued task) that
            # reaches the same slot fails here instead of dialling again.
            models.UniqueConstraint(
                fields=["appointment", "reminder_index", "attempt_number"],
                name="attempt_once_per_slot",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "state"], name="attempt_tenant_state"),
            models.Index(fields=["tenant", "dialed_at"], name="attempt_tenant_dialed"),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_id} r{self.reminder_index} #{self.attempt_number}"


class Suppression(models.Model):
    """Do not call this number (any appointment of the tenant)."""

    class Reason(models.TextChoices):
        OPTED_OUT = "opted-out"
        REQUESTED = "requested"
        COMPLAINT = "complaint"
        OTHER = "other"

    class Source(models.TextChoices):
        KEYPAD = "keypad"
        API = "api"
        PORTAL = "portal"
        IMPORT = "import"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=16)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.REQUESTED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "phone"], name="suppression_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.reason})"


class ImportJob(models.Model):
    """A CSV import: validated whole first; progress for the portal, errors per row."""

    class State(models.TextChoices):
        VALIDATING = "validating"
        FAILED = "failed"  # bad rows and no skip: nothing imported
        IMPORTING = "importing"
        DONE = "done"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(ReminderPlan, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.VALIDATING)
    skip_bad_rows = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    # The uploaded file, kept until the import finishes (no local disk: any worker runs it).
    content = models.TextField(blank=True)
    # [{"row": 3, "field": "phone", "message": "..."}]
    errors = models.JSONField(default=list, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.state})"

    @property
    def percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 100

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "state": self.state,
            "totalRows": self.total_rows,
            "processedRows": self.processed_rows,
            "created": self.created_count,
            "updated": self.updated_count,
            "errors": self.errors,
        }
