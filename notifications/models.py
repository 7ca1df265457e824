"""Notification campaigns: an Audience (a saved filter over the tenant's contacts), a
Notification (the message, its keys, caller-ID pool, pacing, schedule, retries), one
Recipient per contact reached for, and one Dial per call placed to a recipient per round.

Contacts and the do-not-call list are reminders' (one per tenant): a 9 pressed in either
kind of call stops both.
"""

from datetime import datetime, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from campaigns import records
from reminders.models import Contact
from tenants.managers import TenantManager
from tenants.models import PhoneNumber, Tenant

KEY_CHOICES = list("0123456789*#")
KEYS = [(k, k) for k in KEY_CHOICES]
PLACEHOLDERS = ("name", "area")


class Audience(models.Model):
    """Who a notification is for: contacts with any of `tags`, or in any of `areas`, or
    listed explicitly (also by CSV upload); `everyone` takes all contacts."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    everyone = models.BooleanField(default=False)
    tags = models.JSONField(default=list, blank=True)
    areas = models.JSONField(default=list, blank=True)
    members = models.ManyToManyField(Contact, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="audience_name_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name


class Disposition(models.TextChoices):
    """How a recipient's call (or the decision not to call) ended."""

    ACKNOWLEDGED = "acknowledged"  # pressed the ack key
    HEARD = "heard"  # listened, replayed to the limit, never acknowledged
    VOICEMAIL = "voicemail"  # no key after the message: left once, as on a machine
    OPTED_OUT = "opted-out"
    HUNG_UP = "hung-up"  # left during the message
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    DECLINED = "declined"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


REACHED = {
    Disposition.ACKNOWLEDGED,
    Disposition.HEARD,
    Disposition.VOICEMAIL,
    Disposition.OPTED_OUT,
}
# Unreached and worth another round.
RETRIED = {Disposition.NO_ANSWER, Disposition.BUSY, Disposition.FAILED, Disposition.DECLINED}


class Notification(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"  # launched, starts at scheduled_at
        RUNNING = "running"
        PAUSED = "paused"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    audience = models.ForeignKey(Audience, on_delete=models.PROTECT, related_name="notifications")
    # TTS with {name} / {area}, or a WAV played instead: uploaded (audio_file, served to
    # the engine at an unguessable URL naming audio_token) or one the engine fetches
    # (audio_url). The upload wins when both are set.
    message = models.TextField(blank=True)
    audio_url = models.URLField(blank=True)
    audio_file = models.FileField(upload_to="notifications/audio/", blank=True, max_length=200)
    audio_token = models.CharField(max_length=64, blank=True, db_index=True)
    audio_name = models.CharField(max_length=200, blank=True)  # as uploaded, for people
    audio_seconds = models.FloatField(default=0)
    language = models.CharField(max_length=16, default="en-US")  # unless the contact has one
    voice = models.CharField(
        max_length=16, default="female", choices=[("female", "female"), ("male", "male")]
    )
    ack_key = models.CharField(max_length=1, choices=KEYS, default="1")
    replay_key = models.CharField(max_length=1, choices=KEYS, default="2")
    opt_out_key = models.CharField(max_length=1, choices=KEYS, default="9")
    max_replays = models.PositiveIntegerField(default=2, validators=[MaxValueValidator(5)])
    # Opt-outs are honoured, quiet hours and administrative suppressions are not.
    life_safety = models.BooleanField(default=False)
    caller_ids = models.ManyToManyField(PhoneNumber, related_name="+")
    per_number_concurrency = models.PositiveIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(10000)]
    )
    # Runs ahead of reminder traffic within the tenant's limits (campaigns.pacing).
    priority = models.BooleanField(default=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)  # null: at launch
    expires_after_minutes = models.PositiveIntegerField(
        default=120, validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)]
    )
    # Rounds in all (the first included); round n+1 waits retry_delay * 2^(n-1) minutes.
    max_rounds = models.PositiveIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    retry_delay_minutes = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    # Where Notification.Launched / .Acknowledged / .Completed go (durable outbox).
    events_url = models.URLField(blank=True)
    hang_up_on_cancel = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    launched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The order of our own CloudEvents (events.publish).
    event_sequence = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="notification_name_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def expires_at(self) -> datetime | None:
        """No dial starts after this (the clock runs from the actual start)."""
        start = self.started_at or self.scheduled_at or self.launched_at
        return start + timedelta(minutes=self.expires_after_minutes) if start else None


class Recipient(models.Model):
    """One contact of a launched notification: a snapshot of who and where, the round due."""

    class State(models.TextChoices):
        WAITING = "waiting"  # due at next_attempt_at
        CALLING = "calling"  # a dial is in flight
        DONE = "done"  # final disposition set

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="recipients"
    )
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, related_name="+")
    name = models.CharField(max_length=200)
    phone = models.CharField(max_length=16)
    area = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=16, blank=True)
    time_zone = models.CharField(max_length=64)
    # A suppressed number kept by a life-safety launch (audited; shown before launch).
    overrides_suppression = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True)
    round = models.PositiveIntegerField(default=1)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dial_count = models.PositiveIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "phone"], name="recipient_once_per_notification"
            )
        ]
        indexes = [
            # The dispatcher's due rows in its order (next_attempt_at, pk): an index scan
            # that stops at the tick's LIMIT. Without pk a launch's rows (all due at the
            # same instant) were sorted whole, 10,000 of them ten times a second.
            models.Index(
                fields=["tenant", "next_attempt_at", "id"],
                condition=Q(next_attempt_at__isnull=False),
                name="recipient_due_in_order",
            ),
            models.Index(fields=["notification", "state"], name="recipient_state"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone})"


# Kept under this name: migrations refer to it.
new_callback_token = records.new_callback_token


class Dial(records.CallRecord):
    """One call placed to a recipient in one round, and every event heard about it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="dials")
    round = models.PositiveIntegerField()
    caller_id = models.CharField(max_length=16)
    disposition = models.CharField(max_length=16, choices=Disposition.choices, blank=True)
    # The call-flow step (notifications.flow), replays and tones so far.
    step = models.CharField(max_length=16, default="dialing")
    replays = models.PositiveIntegerField(default=0)
    dialed_at = models.DateTimeField()
    connected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["pk"]
        constraints = [
            # Exactly once per contact per round: a second dispatcher, a re-issued task or a
            # restarted one that reaches the same slot fails here instead of dialling again.
            models.UniqueConstraint(fields=["recipient", "round"], name="dial_once_per_round"),
        ]
        indexes = [
            models.Index(fields=["tenant", "state"], name="dial_tenant_state"),
            models.Index(fields=["tenant", "dialed_at"], name="dial_tenant_dialed"),
            models.Index(fields=["notification", "dialed_at"], name="dial_notification_dialed"),
        ]

    def __str__(self) -> str:
        return f"recipient {self.recipient_id} round {self.round}"
