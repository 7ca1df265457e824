"""What recordings tells the apps above it, so it never imports them (usage meters files)."""

from django.dispatch import Signal

# Sent once per stored file, after its check, with `chunk` (a RecordingChunk whose
# `recording` and `tenant` are loaded). Receivers must be idempotent on chunk.document_id:
# a worker that dies after sending may finalize again.
file_finalized = Signal()
