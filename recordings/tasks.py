"""Recording work for django-q2 workers: finalize a stored file, purge expired ones."""

import logging

from django.db import transaction
from django.utils import timezone

from recordings import locations, services
from recordings.models import RecordingChunk
from recordings.signals import file_finalized
from webhooks import grid

log = logging.getLogger(__name__)

FILE_STATUS_EVENT = "Microsoft.Communication.RecordingFileStatusUpdated"


def finalize_chunk(chunk_id: int) -> bool:
    """Check the stored file (size, SHA-256) and announce it to the tenant's event
    subscriptions as RecordingFileStatusUpdated. Idempotent: a finalized chunk is left be."""
    with transaction.atomic():
        chunk = (
            RecordingChunk.unscoped.select_for_update(of=("self",))
            .select_related("recording", "recording__call", "tenant")
            .filter(pk=chunk_id)
            .first()
        )
        if chunk is None or chunk.finalized_at is not None:
            return False
        chunk.sha256, chunk.size = services.checksum(chunk)
        chunk.finalized_at = timezone.now()
        chunk.save(update_fields=["sha256", "size", "finalized_at"])
        recording, call = chunk.recording, chunk.recording.call
        data = {
            "recordingStorageInfo": {"recordingChunks": [locations.chunk_wire(chunk)]},
            "recordingStartTime": recording.started_at.isoformat().replace("+00:00", "Z"),
            "recordingDurationMs": round(chunk.duration * 1000),
            "recordingContentType": "Audio",
            "recordingChannelType": recording.channel_type.capitalize(),
            "recordingFormatType": recording.format.capitalize(),
            "sessionEndReason": "CallEnded"
            if recording.end_reason == "callEnded"
            else "RecordingStopped",
        }
        subject = f"/recording/call/{call.correlation_id}/serverCallId/{call.server_call_id}"
        grid.publish(chunk.tenant, FILE_STATUS_EVENT, subject, data)
    # Usage bills recording minutes per file, once (idempotent on the document id).
    file_finalized.send(sender=RecordingChunk, chunk=chunk)
    return True


def purge_expired() -> int:
    purged = services.purge_expired()
    if purged:
        log.info("retention: purged %d recording(s)", purged)
    return purged
