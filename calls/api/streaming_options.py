"""mediaStreamingOptions and transcriptionOptions of create and answer, checked (ws(s)
URL through the SSRF guard, channel, format, locale). Imports no serializer module, so
the request bodies of both sides can use it."""

from typing import Any
from urllib.parse import urlsplit

from callauto import outbound
from callauto.errors import BadRequest, NotSupported

RATES = {"Pcm16KMono": 16000, "Pcm24KMono": 24000}
LOCALES = ("en-US",)  # what the recognizer (pocketsphinx's en-US model) hears


def websocket_url(value: Any, field: str) -> str:
    """A ws:// or wss:// URL whose host is not one the SSRF guard forbids."""
    if not isinstance(value, str) or len(value) > 2048:
        raise BadRequest(f"{field}: a ws:// or wss:// URL is required.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises for a bad port)
    except ValueError:
        raise BadRequest(f"{field}: a ws:// or wss:// URL is required.") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise BadRequest(f"{field}: a ws:// or wss:// URL is required.")
    try:
        outbound.check(http_twin(value))
    except outbound.UnsafeUrl as exc:
        raise BadRequest(f"{field}: this URL is not allowed: {exc}") from None
    return value


def http_twin(url: str) -> str:
    """The http(s) URL the SSRF guard vets for a ws(s) one (same host and port)."""
    scheme, rest = url.split(":", 1)
    return ("https" if scheme == "wss" else "http") + ":" + rest


def _flag(options: dict, key: str, field: str) -> bool:
    value = options.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"{field}.{key}: must be true or false.")
    return value


def locale_of(value: Any, field: str) -> str:
    if not isinstance(value, str) or value.replace("_", "-").lower() not in map(str.lower, LOCALES):
        raise BadRequest(f"{field}: only {', '.join(LOCALES)} is supported.")
    return "en-US"


def media_streaming_options(data: Any, field: str = "mediaStreamingOptions") -> dict | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise BadRequest(f"{field}: must be an object.")
    if str(data.get("transportType", "websocket")).lower() != "websocket":
        raise BadRequest(f"{field}.transportType: must be websocket.")
    if str(data.get("contentType", "audio")).lower() != "audio":
        raise NotSupported(f"{field}.contentType: only audio is streamed.")
    channel = data.get("audioChannelType", "mixed")
    if channel not in ("mixed", "unmixed"):
        raise BadRequest(f"{field}.audioChannelType: must be mixed or unmixed.")
    audio_format = data.get("audioFormat") or "Pcm16KMono"
    if audio_format not in RATES:
        raise BadRequest(f"{field}.audioFormat: must be Pcm16KMono or Pcm24KMono.")
    return {
        "url": websocket_url(data.get("transportUrl"), f"{field}.transportUrl"),
        "channel": channel,
        "rate": RATES[audio_format],
        "bidirectional": _flag(data, "enableBidirectional", field),
        "start": _flag(data, "startMediaStreaming", field),
    }


def transcription_options(data: Any, field: str = "transcriptionOptions") -> dict | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise BadRequest(f"{field}: must be an object.")
    if str(data.get("transportType", "websocket")).lower() != "websocket":
        raise BadRequest(f"{field}.transportType: must be websocket.")
    if data.get("speechRecognitionModelEndpointId"):
        raise NotSupported(
            f"{field}.speechRecognitionModelEndpointId: custom speech models are not supported."
        )
    return {
        "url": websocket_url(data.get("transportUrl"), f"{field}.transportUrl"),
        "locale": locale_of(data.get("locale"), f"{field}.locale"),
        "start": _flag(data, "startTranscription", field),
    }
