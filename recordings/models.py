"""Call recordings: a Recording is one start-to-stop recording of a call (`recordingId`);
each RecordingChunk is a rendered file of it, stored through the "recordings" storage."""

import secrets
import uuid

from django.core.files.storage import storages
from django.db import models
from django.db.models import Q

from calls.models import Call
from tenants.managers import TenantManager
from tenants.models import Tenant


def new_recording_id() -> str:
    # Opaque like the real service's long base64url ids; no ':' so it fits the routes.
    return secrets.token_urlsafe(33)


def new_document_id() -> str:
    return f"{uuid.uuid4().hex}-{secrets.token_hex(4)}"


def recordings_storage():
    return storages["recordings"]


def chunk_path(chunk: "RecordingChunk", filename: str) -> str:
    return f"{chunk.tenant_id}/{chunk.recording.recording_id[:16]}/{filename}"


class Recording(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        STOPPED = "stopped"
        FAILED = "failed"

    class ChannelType(models.TextChoices):
        MIXED = "mixed"
        UNMIXED = "unmixed"

    class Format(models.TextChoices):
        WAV = "wav"
        MP3 = "mp3"

    LIVE = (State.ACTIVE, State.PAUSED)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="recordings")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="recordings")
    # Set when started by callConnectionId: state events may go to that connection.
    call_connection_id = models.CharField(max_length=64, blank=True)
    recording_id = models.CharField(max_length=64, unique=True, default=new_recording_id)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    channel_type = models.CharField(
        max_length=16, choices=ChannelType.choices, default=ChannelType.MIXED
    )
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.WAV)
    # rawIds in channel order (channelAffinity / audioChannelParticipantOrdering).
    channel_order = models.JSONField(default=list, blank=True)
    pause_on_start = models.BooleanField(default=False)
    state_callback_uri = models.URLField(max_length=2048, blank=True)
    started_by = models.CharField(max_length=200)
    started_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # "stopped" (the API), "callEnded", or why it failed.
    end_reason = models.CharField(max_length=200, blank=True)
    recorded_seconds = models.FloatField(null=True, blank=True)
    # Never purged, never deleted while held.
    legal_hold = models.BooleanField(default=False)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(
                fields=["call"],
                condition=Q(state__in=["active", "paused"]),
                name="one_live_recording_per_call",
            )
        ]
        indexes = [
            # Keyset paging of the portal list (tenants.portal.listing): newest first on (time, pk).
            models.Index(fields=["tenant", "-started_at", "-id"], name="recording_tenant_keyset")
        ]

    def __str__(self) -> str:
        return f"recording {self.recording_id[:12]}… ({self.state})"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE

    @property
    def wire_state(self) -> str:
        """ACS knows only "active" and "inactive"."""
        return "active" if self.state == self.State.ACTIVE else "inactive"


class RecordingChunk(models.Model):
    """One stored file of a recording, with what describes it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="chunks")
    document_id = models.CharField(max_length=64, unique=True, default=new_document_id)
    index = models.PositiveIntegerField(default=0)
    end_reason = models.CharField(max_length=32, default="SessionEnded")
    content = models.FileField(upload_to=chunk_path, storage=recordings_storage, max_length=300)
    content_type = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict)
    duration = models.FloatField()  # seconds of audio
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the worker once the file is checked and announced (RecordingFileStatusUpdated).
    finalized_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(fields=["recording", "index"], name="chunk_index_once")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.recording_id}"

    @property
    def extension(self) -> str:
        return "mp3" if self.content_type == "audio/mpeg" else "wav"
