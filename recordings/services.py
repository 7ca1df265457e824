"""Recording verbs: start, pause, resume and stop a call's recording; store the file the
carrier renders; delete, hold and purge. Each owns its transaction, state change, events
and audit entry."""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from callauto.errors import BadRequest, Conflict, NotFound
from calls import events
from calls.lookups import CallNotActive, get_connection
from calls.models import Call, CallConnection, CarrierCommand
from recordings.models import Recording, RecordingChunk
from recordings.transitions import transition
from tenants import audit
from tenants.audit import Actor
from tenants.models import Tenant

R = Recording.State
RECORDING_KIND = "azureCommunicationServices"


@dataclass(frozen=True)
class RecordingOptions:
    channel_type: str = Recording.ChannelType.MIXED
    format: str = Recording.Format.WAV
    channel_order: list[str] = field(default_factory=list)  # rawIds
    pause_on_start: bool = False
    state_callback_uri: str = ""


def _locate_call(
    tenant: Tenant,
    *,
    server_call_id: str | None,
    group_call_id: str | None,
    call_connection_id: str | None,
) -> tuple[Call, str]:
    """The tenant's call, locked, and the connection id it was named by (if any)."""
    if call_connection_id is not None:
        connection = get_connection(tenant, call_connection_id)
        call_id, named_by = connection.call_id, connection.call_connection_id
    else:
        calls = Call.objects.for_tenant(tenant)
        if server_call_id is not None:
            found = calls.filter(server_call_id=server_call_id).first()
        else:
            # Our group calls (several targets) are identified by their correlation id.
            found = calls.filter(correlation_id=group_call_id).first()
        if found is None:
            raise NotFound("No call matches this call locator.", code="8522")
        call_id, named_by = found.pk, ""
    call = Call.unscoped.select_for_update().get(pk=call_id)
    if call.state != Call.State.CONNECTED:
        raise CallNotActive(f"The call is {call.state}; only a connected call can be recorded.")
    return call, named_by


@transaction.atomic
def start_recording(
    tenant: Tenant,
    *,
    actor: Actor,
    options: RecordingOptions,
    server_call_id: str | None = None,
    group_call_id: str | None = None,
    call_connection_id: str | None = None,
) -> Recording:
    """Start recording a call named by exactly one locator; one recording at a time."""
    call, named_by = _locate_call(
        tenant,
        server_call_id=server_call_id,
        group_call_id=group_call_id,
        call_connection_id=call_connection_id,
    )
    if Recording.unscoped.filter(call=call, state__in=Recording.LIVE).exists():
        raise Conflict(
            "This call is already being recorded; stop that recording first.",
            code="RecordingAlreadyActive",
        )
    recording = Recording.unscoped.create(
        tenant=tenant,
        call=call,
        call_connection_id=named_by,
        state=R.PAUSED if options.pause_on_start else R.ACTIVE,
        channel_type=options.channel_type,
        format=options.format,
        channel_order=list(options.channel_order),
        pause_on_start=options.pause_on_start,
        state_callback_uri=options.state_callback_uri,
        started_by=audit.actor_label(actor),
    )
    _command(
        recording,
        CarrierCommand.Kind.RECORD_START,
        channel_type=recording.channel_type,
        format=recording.format,
        channel_order=recording.channel_order,
        paused=recording.pause_on_start,
    )
    _emit_state(recording)
    audit.record(
        tenant,
        actor=actor,
        action="recording.start",
        target=recording,
        after={"call": call.server_call_id, "format": recording.format,
               "channelType": recording.channel_type, "state": recording.state},
    )  # fmt: skip
    return recording


def get_recording(tenant: Tenant, recording_id: str, *, lock: bool = False) -> Recording:
    """The tenant's recording by id; NotFound for unknown or another tenant's ids."""
    if "\x00" in recording_id:
        raise NotFound("Recording not found.", code="RecordingNotFound")
    rows = Recording.objects.for_tenant(tenant).select_related("call")
    if lock:
        rows = rows.select_for_update(of=("self",))
    recording = rows.filter(recording_id=recording_id).first()
    if recording is None:
        raise NotFound("Recording not found.", code="RecordingNotFound")
    return recording


@transaction.atomic
def pause_recording(tenant: Tenant, recording_id: str, *, actor: Actor) -> Recording:
    return _change(tenant, recording_id, actor=actor, to=R.PAUSED, verb="pause")


@transaction.atomic
def resume_recording(tenant: Tenant, recording_id: str, *, actor: Actor) -> Recording:
    return _change(tenant, recording_id, actor=actor, to=R.ACTIVE, verb="resume")


@transaction.atomic
def stop_recording(tenant: Tenant, recording_id: str, *, actor: Actor) -> Recording:
    """Stop; the file follows from the carrier. Stopping a stopped recording is a no-op."""
    return _change(tenant, recording_id, actor=actor, to=R.STOPPED, verb="stop")


_COMMANDS = {
    R.PAUSED: CarrierCommand.Kind.RECORD_PAUSE,
    R.ACTIVE: CarrierCommand.Kind.RECORD_RESUME,
    R.STOPPED: CarrierCommand.Kind.RECORD_STOP,
}


def _change(tenant: Tenant, recording_id: str, *, actor: Actor, to: str, verb: str) -> Recording:
    recording = get_recording(tenant, recording_id, lock=True)
    if recording.state == to:
        return recording  # pausing a paused (or stopping a stopped) one changes nothing
    if not recording.is_live:
        raise Conflict(
            f"The recording is {recording.state}; it cannot {verb}.", code="RecordingNotActive"
        )
    before = recording.state
    fields = {"stopped_at": timezone.now(), "end_reason": "stopped"} if to == R.STOPPED else {}
    transition(recording, to, **fields)
    _command(recording, _COMMANDS[to])
    _emit_state(recording)
    audit.record(
        tenant,
        actor=actor,
        action=f"recording.{verb}",
        target=recording,
        before={"state": before},
        after={"state": to},
    )
    return recording


def _command(recording: Recording, kind: str, **payload: object) -> None:
    CarrierCommand.unscoped.create(
        tenant_id=recording.tenant_id,
        call_id=recording.call_id,
        kind=kind,
        payload={"recording": recording.recording_id, **payload},
    )


def _emit_state(
    recording: Recording, event_type: str = "RecordingStateChanged", **extra: object
) -> None:
    """RecordingStateChanged to recordingStateCallbackUri, else to the connection the
    recording was started through; with neither, nobody asked to hear of it."""
    data = {
        "recordingId": recording.recording_id,
        "state": recording.wire_state,
        "startDateTime": recording.started_at.isoformat().replace("+00:00", "Z"),
        "recordingKind": RECORDING_KIND,
        **extra,
    }
    if recording.state_callback_uri:
        events.emit_for_call(
            recording.call, event_type, callback_uri=recording.state_callback_uri, **data
        )
        return
    if recording.call_connection_id:
        connection = (
            CallConnection.unscoped.select_related("call")
            .filter(call_connection_id=recording.call_connection_id)
            .first()
        )
        if connection is not None:
            events.emit(connection, event_type, **data)


# --- files (the carrier's RecordingOutcome events, via recordings.handlers) --------------


def store_file(
    recording_id: str,
    *,
    data: bytes,
    content_type: str,
    duration: float,
    metadata: dict,
    end_reason: str,
) -> RecordingChunk | None:
    """Keep the file the carrier rendered; a recording that ended with its call is
    stopped here. The worker then checks and announces it (tasks.finalize_chunk)."""
    recording = (
        Recording.unscoped.select_for_update(of=("self",))
        .select_related("call")
        .filter(recording_id=recording_id)
        .first()
    )
    if recording is None:
        return None  # deleted meanwhile
    if recording.is_live:
        transition(recording, R.STOPPED, stopped_at=timezone.now(), end_reason=end_reason)
        _emit_state(recording)
    Recording.unscoped.filter(pk=recording.pk).update(recorded_seconds=duration)
    chunk = RecordingChunk(
        tenant_id=recording.tenant_id,
        recording=recording,
        index=recording.chunks.count(),
        content_type=content_type,
        duration=duration,
        size=len(data),
        metadata={
            **metadata,
            "recordingId": recording.recording_id,
            "serverCallId": recording.call.server_call_id,
            "sessionEndReason": end_reason,
        },
    )
    extension = "mp3" if content_type == "audio/mpeg" else "wav"
    chunk.content.save(f"{chunk.document_id}.{extension}", ContentFile(data), save=False)
    chunk.save()
    transaction.on_commit(
        lambda: async_task("recordings.tasks.finalize_chunk", chunk.pk, group="recordings"),
        robust=True,
    )
    return chunk


def fail_recording(recording_id: str, *, message: str, at_start: bool = False) -> bool:
    """The carrier could not record (at_start: it never began, StartRecordingFailed)."""
    recording = (
        Recording.unscoped.select_for_update(of=("self",))
        .select_related("call")
        .filter(recording_id=recording_id)
        .first()
    )
    if recording is None or not recording.is_live:
        return False
    transition(recording, R.FAILED, stopped_at=timezone.now(), end_reason=message[:200])
    if at_start:
        failure = events.result(500, 8572, message)
        _emit_state(recording, "StartRecordingFailed", resultInformation=failure)
    else:
        _emit_state(recording)
    return True


def checksum(chunk: RecordingChunk) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with chunk.content.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


# --- lifecycle ---------------------------------------------------------------------------


def get_chunk(tenant: Tenant, document_id: str) -> RecordingChunk:
    if "\x00" in document_id:
        raise NotFound("Recording content not found.", code="RecordingNotFound")
    chunk = (
        RecordingChunk.objects.for_tenant(tenant)
        .select_related("recording", "recording__call")
        .filter(document_id=document_id)
        .first()
    )
    if chunk is None:
        raise NotFound("Recording content not found.", code="RecordingNotFound")
    return chunk


@transaction.atomic
def delete_recording(tenant: Tenant, recording: Recording, *, actor: Actor) -> None:
    """Delete a stopped recording and its files. Refused while live or under legal hold."""
    recording = Recording.unscoped.select_for_update().get(pk=recording.pk)
    if recording.legal_hold:
        raise Conflict("This recording is under legal hold.", code="RecordingUnderLegalHold")
    if recording.is_live:
        raise Conflict("Stop the recording before deleting it.", code="RecordingNotStopped")
    audit.record(
        tenant,
        actor=actor,
        action="recording.delete",
        target=recording,
        before={"state": recording.state, "chunks": recording.chunks.count()},
    )
    _delete_files(recording)
    recording.delete()


@transaction.atomic
def set_legal_hold(tenant: Tenant, recording: Recording, *, held: bool, actor: Actor) -> None:
    before = recording.legal_hold
    Recording.unscoped.filter(pk=recording.pk).update(legal_hold=held)
    recording.legal_hold = held
    audit.record(
        tenant,
        actor=actor,
        action="recording.legal_hold",
        target=recording,
        before={"legalHold": before},
        after={"legalHold": held},
    )


def _delete_files(recording: Recording) -> None:
    names = [chunk.content.name for chunk in recording.chunks.all() if chunk.content]
    storage = RecordingChunk._meta.get_field("content").storage

    def remove() -> None:
        for name in names:
            storage.delete(name)

    # Files go once the rows are gone for good: a rolled-back delete keeps both.
    transaction.on_commit(remove)


def purge_expired(*, now=None) -> int:
    """Delete recordings older than their tenant's retention, except under legal hold."""
    now = now or timezone.now()
    purged = 0
    for tenant in Tenant.objects.all():
        cutoff = now - timedelta(days=tenant.recording_retention_days)
        expired = Recording.objects.for_tenant(tenant).filter(
            stopped_at__lt=cutoff, legal_hold=False, state__in=[R.STOPPED, R.FAILED]
        )
        for recording in expired.iterator():
            with transaction.atomic():
                audit.record(
                    tenant,
                    actor=None,
                    action="recording.purge",
                    target=recording,
                    before={"stoppedAt": recording.stopped_at.isoformat()},
                )
                _delete_files(recording)
                recording.delete()
                purged += 1
    return purged


def require_unmixed_wav(options: RecordingOptions) -> None:
    if options.channel_type == Recording.ChannelType.UNMIXED and options.format != "wav":
        raise BadRequest(
            "Unmixed recordings are WAV only (one channel per participant); use "
            "recordingFormatType wav, or a mixed recording for mp3.",
            code="UnsupportedRecordingOptions",
        )
