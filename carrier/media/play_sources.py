"""Play sources (ACS PlaySource): what to play, and turning it into audio.

A source is a WAV file at an http(s) URL or text to speak (espeak-ng). Loading happens in
the gateway, off the request path: files are fetched once (size- and time-limited, no
redirects) and cached by `playSourceCacheId` or URL; speech is cached by text and voice.
A source that cannot be played raises SourceError with the ACS sub-code the PlayFailed
or RecognizeFailed event reports.
"""

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from django.conf import settings

from callauto import outbound
from carrier.media.audio import Audio, AudioFormatError
from carrier.media.tts import TtsError, render

MAX_FILE_BYTES = 10 * 1024 * 1024
FETCH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class SourceError(Exception):
    def __init__(self, sub_code: int, message: str) -> None:
        super().__init__(message)
        self.sub_code = sub_code
        self.message = message


@dataclass(frozen=True)
class PlaySource:
    kind: str  # "file" or "text"
    uri: str = ""
    text: str = ""
    locale: str = "en-US"
    voice_kind: str | None = None
    voice_name: str | None = None
    cache_id: str | None = None

    def to_payload(self) -> dict:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict) -> "PlaySource":
        return cls(**data)


def load(source: PlaySource) -> Audio:
    """The source's audio in our canonical format. Raises SourceError."""
    if source.kind == "text":
        if not source.text.strip():
            raise SourceError(8582, "The text to speak is empty.")
        try:
            return render(
                source.text, locale=source.locale, voice_kind=source.voice_kind,
                voice_name=source.voice_name,
            )  # fmt: skip
        except TtsError as exc:
            raise SourceError(8565, f"Text-to-speech failed: {exc}") from exc
    return _load_file(source)


def _cache_path(source: PlaySource) -> Path:
    key = source.cache_id or source.uri
    directory = Path(settings.MEDIA_CACHE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"file-{hashlib.sha256(key.encode()).hexdigest()}.wav"


def _load_file(source: PlaySource) -> Audio:
    path = _cache_path(source)
    if path.exists():
        return Audio.from_wav(path.read_bytes())
    data = _fetch(source.uri)
    try:
        audio = Audio.from_wav(data)
    except AudioFormatError as exc:
        raise SourceError(8535, f"The file is not a playable WAV: {exc}") from exc
    path.write_bytes(audio.to_wav())
    return audio


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
