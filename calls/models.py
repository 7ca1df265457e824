"""The Call Automation engine's records.

A Call is one conversation on the carrier (`serverCallId`). A CallConnection is the
application's own leg in it (`callConnectionId`, where events go). Participants are
the other legs. CallEvent is append-only: the audit trail of what was sent to the
application, each beside its outbox row (webhooks.Delivery). CarrierCommand rows are how
the web tier asks the gateway process to act on the network.
"""

import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from calls.identifiers import Identifier
from tenants.managers import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantManager
from tenants.models import Tenant


def new_server_call_id() -> str:
    return secrets.token_urlsafe(32)


def new_connection_id() -> str:
    return secrets.token_urlsafe(24)


def new_invitation_id() -> str:
    return str(uuid.uuid4())


class Call(models.Model):
    class State(models.TextChoices):
        CONNECTING = "connecting"
        CONNECTED = "connected"
        DISCONNECTED = "disconnected"

    class Direction(models.TextChoices):
        OUTBOUND = "outbound"
        INBOUND = "inbound"
        PEER_TO_PEER = "p2p"  # between two of the tenant's endpoints, no app in it

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="calls")
    server_call_id = models.CharField(max_length=64, unique=True, default=new_server_call_id)
    correlation_id = models.UUIDField(default=uuid.uuid4)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CONNECTING)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    source_caller_id = models.CharField(max_length=16, blank=True)
    source_display_name = models.CharField(max_length=256, blank=True)
    # The tenant number an incoming call was placed to.
    to_number = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Why the call ended, as ACS reports it in resultInformation.
    end_code = models.PositiveIntegerField(null=True, blank=True)
    end_subcode = models.PositiveIntegerField(null=True, blank=True)
    end_message = models.CharField(max_length=256, blank=True)
    # The gateway carrying this call's legs; only it executes the call's commands.
    gateway_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Out-of-call operations (by serverCallId) report here; events without a connection
    # are numbered by this counter.
    out_of_call_callback_uri = models.URLField(max_length=2048, blank=True)
    last_event_sequence = models.PositiveIntegerField(default=0)
    # When an incoming call was answered, redirected or rejected: each context acts once.
    handled_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        indexes = [
            # Keyset paging of the portal list (tenants.portal.listing): newest first on (time, pk).
            models.Index(fields=["tenant", "-created_at", "-id"], name="call_tenant_keyset"),
            # The concurrent-call limit counts a tenant's live calls on every CreateCall.
            models.Index(fields=["tenant", "state"], name="call_tenant_state"),
        ]

    def __str__(self) -> str:
        return self.server_call_id


class CallConnection(models.Model):
    class State(models.TextChoices):
        CONNECTING = "connecting"
        CONNECTED = "connected"
        TRANSFERRING = "transferring"
        TRANSFER_ACCEPTED = "transferAccepted"
        DISCONNECTING = "disconnecting"
        DISCONNECTED = "disconnected"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="connections")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="connections")
    call_connection_id = models.CharField(max_length=64, unique=True, default=new_connection_id)
    callback_uri = models.URLField(max_length=2048)
    operation_context = models.CharField(max_length=5000, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.CONNECTING)
    # Counters for this connection's events; bumped under the connection's row lock.
    last_event_sequence = models.PositiveIntegerField(default=0)
    last_roster_sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # mediaStreamingOptions / transcriptionOptions given on create or answer, with the
    # subscription's id and state (calls.streaming_verbs).
    media_streaming = models.JSONField(default=dict, blank=True)
    transcription = models.JSONField(default=dict, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"

    def __str__(self) -> str:
        return self.call_connection_id


class Participant(models.Model):
    """A remote leg: a phone number or an ACS user, invited, in the call, or gone."""

    class State(models.TextChoices):
        INVITED = "invited"
        CONNECTED = "connected"
        DISCONNECTED = "disconnected"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Role(models.TextChoices):
        TARGET = "target"  # dialled by create_call
        ADDED = "added"  # participants:add
        TRANSFER = "transfer"  # transferToParticipant's target
        CALLER = "caller"  # who placed an incoming call
        REDIRECT = "redirect"  # where an incoming call was redirected to

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="participants")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="participants")
    # The connection that asked for this leg: its results are reported there.
    requested_by = models.ForeignKey(
        CallConnection, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=32)
    raw_id = models.CharField(max_length=256)
    role = models.CharField(max_length=16, choices=Role.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.INVITED)
    leg_id = models.UUIDField(default=uuid.uuid4, unique=True)
    invitation_id = models.CharField(max_length=64, default=new_invitation_id, unique=True)
    invitation_timeout = models.PositiveIntegerField(default=60)
    operation_context = models.CharField(max_length=5000, blank=True)
    operation_callback_uri = models.URLField(max_length=2048, blank=True)
    source_caller_id = models.CharField(max_length=16, blank=True)
    is_muted = models.BooleanField(default=False)
    is_on_hold = models.BooleanField(default=False)
    # Continuous DTMF recognition: on/off, and the sequenceId of the last tone reported.
    # customCallingContext the leg was invited (or called in) with: {"sipHeaders": {...},
    # "voipHeaders": {...}} (calls.custom_context).
    custom_context = models.JSONField(default=dict, blank=True)
    dtmf_listening = models.BooleanField(default=False)
    dtmf_sequence = models.PositiveIntegerField(default=0)
    invited_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    end_code = models.PositiveIntegerField(null=True, blank=True)
    end_message = models.CharField(max_length=256, blank=True)
    # A leg on a SIP trunk (none: the simulated carrier): its media quality (packets,
    # loss, jitter, MOS) and every SIP message of it, kept as long as the call is.
    trunk = models.ForeignKey(
        "tenants.Trunk", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sip_code = models.PositiveIntegerField(null=True, blank=True)  # its final SIP answer
    media_quality = models.JSONField(null=True, blank=True)
    sip_trace = models.JSONField(null=True, blank=True)
    # The SIP dialog while the leg is up: a restarted gateway sends its BYE.
    sip_dialog = models.JSONField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            # One live leg per identity per call; a person who left may be added again.
            models.UniqueConstraint(
                fields=["call", "raw_id"],
                condition=Q(state__in=["invited", "connected"]),
                name="participant_live_once_per_call",
            )
        ]

    def __str__(self) -> str:
        return f"{self.raw_id} ({self.state})"

    @property
    def identifier(self) -> Identifier:
        return Identifier(kind=self.kind, raw_id=self.raw_id)

    @property
    def is_live(self) -> bool:
        return self.state in (self.State.INVITED, self.State.CONNECTED)


class CallEvent(models.Model):
    """One CloudEvent as sent to the application; written once, never changed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="call_events")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    connection = models.ForeignKey(
        CallConnection, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    event_id = models.UUIDField(default=uuid.uuid4, unique=True)
    sequence_number = models.PositiveIntegerField()
    event_type = models.CharField(max_length=64)
    data = models.JSONField()
    callback_uri = models.URLField(max_length=2048)
    created_at = models.DateTimeField(default=timezone.now)
    # Its callback: the outbox row published in the same transaction.
    delivery = models.OneToOneField(
        "webhooks.Delivery", on_delete=models.CASCADE, related_name="call_event"
    )

    unscoped = models.Manager.from_queryset(AppendOnlyQuerySet)()
    objects = AppendOnlyTenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "sequence_number"], name="event_sequence_per_connection"
            )
        ]
        indexes = [models.Index(fields=["call", "created_at"], name="event_call_time")]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.sequence_number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("CallEvent rows are append-only")
        super().save(*args, **kwargs)


class CarrierCommand(models.Model):
    """Something the gateway must do on the network, written by the web tier."""

    class Kind(models.TextChoices):
        DIAL = "dial"
        HANG_UP = "hang_up"
        MUTE = "mute"
        ANSWER = "answer"  # pick up an incoming leg
        REJECT = "reject"  # refuse an incoming leg (payload: sip_code)
        ORIGINATE = "originate"  # simulated carrier only: someone calls a tenant number
        MEDIA_START = "media_start"  # payload: op (a MediaOperation's op_id)
        MEDIA_STOP = "media_stop"  # payload: op
        DTMF_LISTEN = "dtmf_listen"  # payload: on (continuous DTMF recognition)
        # Recording (payload: recording id and options; see recordings.services).
        RECORD_START = "record_start"
        RECORD_PAUSE = "record_pause"
        RECORD_RESUME = "record_resume"
        RECORD_STOP = "record_stop"
        # Softphone (simulated carrier): a person in the browser acts for a callee's leg.
        PRESS = "press"  # payload: key
        CALLEE_ANSWER = "callee_answer"
        CALLEE_HANG_UP = "callee_hang_up"
        STREAM_START = "stream_start"  # payload: stream, kind (streaming | transcription)
        STREAM_STOP = "stream_stop"  # payload: stream

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    # Empty only for ORIGINATE: the call exists once the carrier reports it.
    call = models.ForeignKey(
        Call, on_delete=models.CASCADE, null=True, blank=True, related_name="commands"
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, null=True, blank=True, related_name="commands"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        indexes = [models.Index(fields=["state", "id"], name="command_pending")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.state})"


class CarrierEventReceipt(models.Model):
    """The driver's event ids already ingested: a redelivered event is a no-op."""

    event_id = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.event_id


class SimulatedCallee(models.Model):
    """How the simulated carrier's callee at `raw_id` behaves when dialled."""

    class Outcome(models.TextChoices):
        ANSWER = "answer"
        BUSY = "busy"
        NO_ANSWER = "no_answer"
        REJECT = "reject"
        VOICEMAIL = "voicemail"
        FAIL = "fail"
        # Rings until a person answers it on the portal's softphone.
        SOFTPHONE = "softphone"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="callees")
    raw_id = models.CharField(max_length=256)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.ANSWER)
    answer_after = models.FloatField(default=1.0)
    hang_up_after = models.FloatField(null=True, blank=True)
    # [[seconds after answer, "1"], ...]: keys the callee presses.
    keys = models.JSONField(default=list, blank=True)
    # [[seconds after answer, "yes please"], [1.0, "confirm", "prompt"], ...]: what the
    # callee says (espeak-ng speech into its leg), like keys.
    says = models.JSONField(default=list, blank=True)
    # A softphone identity's member: calls to any of a member's identities ring on their
    # softphone whichever identity it shows (issue 17). None: rings only where chosen.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "raw_id"], name="callee_once_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.raw_id}: {self.outcome}"


class IdempotentRequest(models.Model):
    """A repeatable request's stored answer (Repeatability-Request-ID / Idempotency-Key)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_per_tenant")
        ]

    def __str__(self) -> str:
        return self.key


class MediaOperation(models.Model):
    """One play / recognize / send-DTMF / hold-music action on a call's media.

    At most one runs per target at a time; later ones wait QUEUED unless they interrupt
    (ACS semantics). `targets` holds participant rawIds; empty means everyone.
    """

    class Kind(models.TextChoices):
        PLAY = "play"
        RECOGNIZE = "recognize"
        SEND_DTMF = "send_dtmf"
        HOLD_MUSIC = "hold_music"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELED = "canceled"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="media_operations")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="media_operations")
    connection = models.ForeignKey(
        CallConnection, on_delete=models.CASCADE, related_name="media_operations"
    )
    op_id = models.UUIDField(default=uuid.uuid4, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    targets = models.JSONField(default=list, blank=True)
    # The parsed request: play sources, recognize options, tones.
    payload = models.JSONField(default=dict)
    operation_context = models.CharField(max_length=5000, blank=True)
    operation_callback_uri = models.URLField(max_length=2048, blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        indexes = [models.Index(fields=["call", "state"], name="media_call_state")]

    def __str__(self) -> str:
        return f"{self.kind} {self.op_id} ({self.state})"

    def overlaps(self, other: "MediaOperation") -> bool:
        """Whether the two act on a common participant (an empty target list is everyone)."""
        return not self.targets or not other.targets or bool(set(self.targets) & set(other.targets))


class TranscriptLine(models.Model):
    """One recognized phrase of a call's transcription: who said it, when, what."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="transcript")
    raw_id = models.CharField(max_length=256)
    text = models.TextField()
    confidence = models.FloatField(default=0.0)
    offset = models.FloatField()  # seconds from the start of the transcription
    duration = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["call", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.raw_id}: {self.text}"


class LiveCalls(models.Model):
    """How many of a tenant's calls are not disconnected: the concurrent-call limit's
    counter (calls.live_calls). A counter row instead of COUNT(*) under the tenant's row
    lock lets one tenant's CreateCalls run side by side; `reconcile` recounts it."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    live = models.PositiveIntegerField(default=0)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.live} live"
