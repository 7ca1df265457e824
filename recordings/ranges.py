"""Serving a stored file whole (200) or one byte range of it (206), as audio players and
`download_recording(offset=, length=)` ask (RFC 9110 §14)."""

import re

from django.core.files import File
from django.http import HttpRequest, HttpResponse

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def serve(request: HttpRequest, handle: File, size: int, content_type: str, filename: str):
    header = request.headers.get("Range", "").strip()
    first, last = 0, size - 1
    partial = False
    if header:
        match = RANGE.match(header)
        # Several ranges, other units or nonsense: RFC 9110 lets us ignore the header.
        if match and (match[1] or match[2]):
            if match[1]:
                first = int(match[1])
                last = min(int(match[2]), size - 1) if match[2] else size - 1
            else:  # "-N": the last N bytes
                first = max(size - int(match[2]), 0)
            if first >= size or first > last:
                response = HttpResponse(status=416)
                response["Content-Range"] = f"bytes */{size}"
                return response
            partial = True
    handle.seek(first)
    body = handle.read(last - first + 1) if size else b""
    response = HttpResponse(body, status=206 if partial else 200, content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    if partial:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def serve_chunk(request: HttpRequest, chunk) -> HttpResponse:
    with chunk.content.open("rb") as handle:
        size = chunk.content.size
        name = f"recording-{chunk.recording.recording_id[:12]}-{chunk.index}.{chunk.extension}"
        return serve(request, handle, size, chunk.content_type, name)
