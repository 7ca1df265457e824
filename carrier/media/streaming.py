"""Media streaming to an app's WebSocket, in ACS's message format (pure of Django).

One `StreamConnection` per stream: a thread connects to the app's ws:// or wss:// URL
(at the address the SSRF guard vetted, so DNS cannot swap in another), sends
`AudioMetadata` (or `TranscriptionMetadata`) first and then what the media engine hands
it, and reads what the app sends back (bidirectional audio, `StopAudio`).

The media clock only ever puts messages into a bounded buffer: it never waits for the
network. When the app reads too slowly the oldest audio is dropped (and counted), the
way a real-time stream must. A connection that drops is retried (RECONNECTS times, with
growing pauses) with the buffer kept; one that cannot be (re)made reports failure.
"""

import base64
import json
import queue
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 8000
FRAME_MS = 20
BUFFER_MESSAGES = 500  # 10 s of 20 ms frames
RECONNECTS = 3
BACKOFF = (0.2, 0.5, 1.0)
OPEN_TIMEOUT = 5.0
FORMATS = {"Pcm16KMono": 16000, "Pcm24KMono": 24000}


@dataclass
class StreamConnection:
    """A stream's WebSocket. `on_event(kind, detail)` hears "connected", "failed"
    (detail: message) and "audio"/"stop_audio" (what the app sent back); it is called on
    the connection's thread."""

    stream_id: str
    url: str
    address: str  # the vetted IP to connect to
    metadata: dict
    on_event: Callable[[str, dict], None]
    rate: int = 16000
    buffer: int = BUFFER_MESSAGES
    dropped: int = 0
    sent: int = 0
    _queue: "queue.Queue[str | None]" = field(init=False)
    _thread: threading.Thread | None = field(init=False, default=None)
    _closing: threading.Event = field(init=False, default_factory=threading.Event)
    _resampling: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(self.buffer)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"stream-{self.stream_id}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Send what is buffered, then close (from any thread; never blocks)."""
        self._closing.set()
        self._put(None)

    # --- what the media engine hands over ---
    def send_audio(self, pcm: bytes, at: datetime, participant: str = "") -> None:
        """8 kHz PCM heard at `at`, resampled (continuously per participant, so frames
        join without a seam) and sent as AudioData messages of 20 ms."""
        converted, self._resampling[participant] = audioop.ratecv(
            pcm, 2, 1, RATE, self.rate, self._resampling.get(participant)
        )
        step = self.rate * FRAME_MS // 1000 * 2
        for index in range(0, len(converted), step):
            frame = converted[index : index + step]
            data = {
                "timestamp": _iso(at + timedelta(seconds=index / 2 / self.rate)),
                "data": base64.b64encode(frame).decode(),
                "silent": audioop.rms(frame, 2) < 50,
            }
            if participant:
                data["participantRawID"] = participant
            self._put(json.dumps({"kind": "AudioData", "audioData": data}))

    def send_message(self, message: dict) -> None:
        self._put(json.dumps(message))

    def _put(self, message: str | None) -> None:
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except queue.Full:
                try:  # back-pressure: the oldest audio goes, the clock never waits
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    # --- the connection's thread ---
    def _run(self) -> None:
        attempts, ever_connected = 0, False
        while True:
            try:
                with self._connect() as websocket:
                    if not ever_connected:
                        self.on_event("connected", {})
                    ever_connected, attempts = True, 0
                    websocket.send(json.dumps(self.metadata))
                    self._pump(websocket)
                    return  # closed on purpose
            except (OSError, WebSocketException, TimeoutError) as exc:
                if self._closing.is_set() and ever_connected:
                    return
                if attempts >= RECONNECTS or (not ever_connected and attempts >= 1):
                    self.on_event("failed", {"message": f"{type(exc).__name__}: {exc}"})
                    return
                time.sleep(BACKOFF[min(attempts, len(BACKOFF) - 1)])
                attempts += 1

    def _pump(self, websocket: Any) -> None:
        """Send buffered messages until closed; a reader thread takes the app's messages.
        Both block (no polling), so an idle stream costs no CPU."""
        threading.Thread(target=self._read, args=(websocket,), daemon=True).start()
        while True:
            message = self._queue.get()
            if message is None:
                websocket.close()
                return
            websocket.send(message)
            self.sent += 1

    def _read(self, websocket: Any) -> None:
        try:
            for raw in websocket:
                self._received(raw)
        except (OSError, WebSocketException):
            return  # the sender sees the connection go and reconnects

    def _received(self, raw: str | bytes) -> None:
        message = _lower_keys(json.loads(raw)) if isinstance(raw, str) else {}
        kind = str(message.get("kind", "")).lower()
        if kind == "audiodata":
            data = base64.b64decode((message.get("audiodata") or {}).get("data") or "")
            pcm, _ = audioop.ratecv(data[: len(data) // 2 * 2], 2, 1, self.rate, RATE, None)
            self.on_event("audio", {"pcm": pcm})
        elif kind == "stopaudio":
            self.on_event("stop_audio", {})

    def _connect(self) -> Any:
        parts = urlsplit(self.url)
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        sock = socket.create_connection((self.address, port), timeout=OPEN_TIMEOUT)
        context = ssl.create_default_context() if secure else None
        return connect(
            self.url,
            sock=sock,
            ssl=context,
            server_hostname=parts.hostname if secure else None,
            open_timeout=OPEN_TIMEOUT,
            max_size=2**20,
        )


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lower_keys(value: Any) -> Any:
    # Apps write {"Kind": "AudioData", "AudioData": {"Data": ...}} (the ACS samples) as
    # well as camelCase: keys are read without regard to case.
    if isinstance(value, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    return value


def audio_metadata(subscription_id: str, rate: int, channels: int = 1) -> dict:
    return {
        "kind": "AudioMetadata",
        "audioMetadata": {
            "subscriptionId": subscription_id,
            "encoding": "PCM",
            "sampleRate": rate,
            "channels": channels,
            "length": rate * FRAME_MS // 1000 * 2,
        },
    }


def transcription_metadata(
    subscription_id: str, locale: str, call_connection_id: str, correlation_id: str
) -> dict:
    return {
        "kind": "TranscriptionMetadata",
        "transcriptionMetadata": {
            "subscriptionId": subscription_id,
            "locale": locale,
            "callConnectionId": call_connection_id,
            "correlationId": correlation_id,
        },
    }


def transcription_data(
    text: str, confidence: float, offset: float, duration: float, participant: str
) -> dict:
    ticks = 10_000_000  # ACS counts offsets and durations in 100 ns ticks
    return {
        "kind": "TranscriptionData",
        "transcriptionData": {
            "text": text,
            "format": "display",
            "confidence": round(confidence, 4),
            "offset": int(offset * ticks),
            "duration": int(duration * ticks),
            "words": [],
            "participantRawID": participant,
            "resultStatus": "Final",
        },
    }
