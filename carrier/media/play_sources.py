"""Play sources (ACS PlaySource): what to play, and turning it into audio.

A source is a WAV file at an http(s) URL, or text or SSML to speak (espeak-ng). Loading is in
the gateway, off the request path: files are fetched once (size- and time-limited, no
redirects) and cached per tenant, by URL and `playSourceCacheId`; speech is cached per
tenant by text and voice. A source that cannot be played raises SourceError with the ACS
sub-code the PlayFailed or RecognizeFailed event reports.

Every cache entry belongs to one tenant: a tenant naming another's cache id (or URL)
never hears the other's audio, nor can it put its own audio into the other's entries.
A cache id is a name within the URL it was given with, so the same id with another URL
is another entry (an id cannot make a URL play something it does not serve).
"""

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from django.conf import settings

from callauto import outbound
from carrier.media.audio import Audio, AudioFormatError
from carrier.media.tts import TtsError, render, render_ssml

MAX_FILE_BYTES = 10 * 1024 * 1024
FETCH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Part of every file cache key: bump it to stop using entries written under other keys.
_FILE_CACHE_VERSION = 2


class SourceError(Exception):
    def __init__(self, sub_code: int, message: str) -> None:
        super().__init__(message)
        self.sub_code = sub_code
        self.message = message


@dataclass(frozen=True)
class PlaySource:
    kind: str  # "file", "text" or "ssml"
    uri: str = ""
    text: str = ""  # the text to speak, or the SSML document
    locale: str = "en-US"
    voice_kind: str | None = None
    voice_name: str | None = None
    cache_id: str | None = None

    def to_payload(self) -> dict:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict) -> "PlaySource":
        return cls(**data)


def load(source: PlaySource, *, tenant_id: int) -> Audio:
    """The source's audio in our canonical format, from `tenant_id`'s cache or loaded
    for it. Raises SourceError."""
    if source.kind == "text":
        if not source.text.strip():
            raise SourceError(8582, "The text to speak is empty.")
        try:
            return render(
                source.text, locale=source.locale, voice_kind=source.voice_kind,
                voice_name=source.voice_name, scope=f"tenant-{tenant_id}",
            )  # fmt: skip
        except TtsError as exc:
            raise SourceError(8565, f"Text-to-speech failed: {exc}") from exc
    if source.kind == "ssml":
        try:
            return render_ssml(source.text, scope=f"tenant-{tenant_id}")
        except TtsError as exc:
            raise SourceError(8565, f"Text-to-speech failed: {exc}") from exc
    return _load_file(source, tenant_id)


def _cache_path(source: PlaySource, tenant_id: int) -> Path:
    # The tenant, the URL and the cache id all name the entry (JSON keeps them apart).
    key = json.dumps([_FILE_CACHE_VERSION, tenant_id, source.uri, source.cache_id or ""])
    directory = Path(settings.MEDIA_CACHE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"file-{hashlib.sha256(key.encode()).hexdigest()}.wav"


def _load_file(source: PlaySource, tenant_id: int) -> Audio:
    path = _cache_path(source, tenant_id)
    with contextlib.suppress(OSError, AudioFormatError):
        # A missing or damaged entry is fetched again.
        return Audio.from_wav(path.read_bytes())
    data = _fetch(source.uri)
    try:
        audio = Audio.from_wav(data)
    except AudioFormatError as exc:
        raise SourceError(8535, f"The file is not a playable WAV: {exc}") from exc
    # A cache that cannot be written only costs the next play a download.
    with contextlib.suppress(OSError):
        _write_atomically(path, audio.to_wav())
    return audio


def _write_atomically(path: Path, data: bytes) -> None:
    # Another gateway (or the softphone page) may read the entry while it is written.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".file-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fetch(uri: str) -> bytes:
    try:
        pinned, headers, extensions = outbound.pin(uri)
        with (
            httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=False) as client,
            client.stream("GET", pinned, headers=headers, extensions=extensions) as response,
        ):
            if response.status_code != 200:
                raise SourceError(8536, f"Downloading the file answered {response.status_code}.")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise SourceError(8536, "The file is larger than 10 MB.")
                chunks.append(chunk)
            return b"".join(chunks)
    except (httpx.HTTPError, httpx.InvalidURL, outbound.UnsafeUrl) as exc:
        raise SourceError(8536, f"Downloading the file failed: {exc}") from exc
