"""What usage does when other apps announce something billable."""

from typing import Any

from usage.services import meter_recording


def meter_recording_file(sender: Any, *, chunk: Any, **kwargs: Any) -> None:
    """Recording minutes are billed per stored file, once (idempotent on the document id)."""
    meter_recording(
        chunk.tenant,
        source_id=chunk.document_id,
        started_at=chunk.recording.started_at,
        seconds=chunk.duration,
    )
