"""Point the recordings storage at a temporary directory for one test."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recordings.models import RecordingChunk


@contextmanager
def temporary_recordings_storage(directory: Path) -> Iterator[Path]:
    # The FileField's storage is built once at import; its location is cached on it.
    storage = RecordingChunk._meta.get_field("content").storage
    saved = dict(storage.__dict__)
    storage._location = str(directory)
    for cached in ("base_location", "location"):
        storage.__dict__.pop(cached, None)
    try:
        yield directory
    finally:
        storage.__dict__.clear()
        storage.__dict__.update(saved)
