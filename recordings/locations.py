"""Where a recording chunk can be fetched and deleted: HMAC-authenticated URLs on our own
server, shaped like ACS's (`/v1/objects/{documentId}/content/audio`) under the tenant's
endpoint, so the tenant's access key signs them as it signs the rest of the API."""

from recordings.models import RecordingChunk


def _base(chunk: RecordingChunk) -> str:
    return f"{chunk.tenant.endpoint}recordings/v1/objects/{chunk.document_id}"


def content(chunk: RecordingChunk) -> str:
    return f"{_base(chunk)}/content/audio"


def metadata(chunk: RecordingChunk) -> str:
    return f"{_base(chunk)}/content/acsmetadata"


def delete(chunk: RecordingChunk) -> str:
    return _base(chunk)


def chunk_wire(chunk: RecordingChunk) -> dict:
    return {
        "documentId": chunk.document_id,
        "index": chunk.index,
        "endReason": chunk.end_reason,
        "contentLocation": content(chunk),
        "metadataLocation": metadata(chunk),
        "deleteLocation": delete(chunk),
    }
