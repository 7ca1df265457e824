"""Media streaming to an app's WebSocket, in ACS's message format (pure of Django).

All of a process's streams run on one asyncio loop in one thread (the "hub"; websockets'
asyncio client): a thread a stream cost the media clock its timing (each woke 50 times a
second and fought for the GIL). A `StreamConnection` connects to the app's ws:// or
wss:// URL (at the address the SSRF guard vetted, so DNS cannot swap in another), sends
`AudioMetadata` (or `TranscriptionMetadata`) first and then what the media engine hands
it, and reads what the app sends back (bidirectional audio, `StopAudio`).

The media clock only ever appends messages to a bounded buffer and wakes the hub (once a
tick for all streams): it never waits for the network. When the app reads too slowly
the oldest audio is dropped (and counted), the way a real-time stream must. A connection
that drops is retried (RECONNECTS times, with growing pauses) with the buffer kept; one
that cannot be (re)made reports failure. `send_tick` encodes one 20 ms frame for many
streams at once (carrier.media.stream_audio).
"""

import asyncio
import base64
import contextlib
import json
import ssl
import threading
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from carrier.media import stream_audio

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


class _Hub:
    """The streams' asyncio loop, in its own daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready: set[StreamConnection] = set()
        self._lock = threading.Lock()
        self._scheduled = False
        threading.Thread(target=self.loop.run_forever, name="media-streams", daemon=True).start()

    def wake(self, connection: "StreamConnection") -> None:
        """`connection` has news; one loop wake-up serves all streams of a tick."""
        with self._lock:
            self._ready.add(connection)
            if self._scheduled:
                return
            self._scheduled = True
        self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            ready, self._ready, self._scheduled = self._ready, set(), False
        for connection in ready:
            connection._news.set()


_hub: _Hub | None = None
_hub_lock = threading.Lock()


def hub() -> _Hub:
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = _Hub()
        return _hub


@dataclass(eq=False)
class StreamConnection:
    """A stream's WebSocket. `on_event(kind, detail)` hears "connected", "failed"
    (detail: message) and "audio"/"stop_audio" (what the app sent back); it is called on
    the hub's thread."""

    stream_id: str
    url: str
    address: str  # the vetted IP to connect to
    metadata: dict
    on_event: Callable[[str, dict], None]
    rate: int = 16000
    buffer: int = BUFFER_MESSAGES
    dropped: int = 0
    sent: int = 0
    _queue: deque = field(init=False)
    _closing: bool = field(init=False, default=False)
    _news: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _last: dict[str, int] = field(init=False, default_factory=dict)  # resampler state

    def __post_init__(self) -> None:
        self._queue = deque()

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._run(), hub().loop)

    def close(self) -> None:
        """Send what is buffered, then close (from any thread; never blocks)."""
        self._closing = True
        hub().wake(self)

    # --- what the media engine hands over (any thread) ---
    def send_audio(self, pcm: bytes, at: datetime, participant: str = "") -> None:
        """8 kHz PCM heard at `at`, resampled (continuously per participant, so frames
        join without a seam) and sent as AudioData messages of 20 ms."""
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
        if not len(samples):
            return
        factor = self.rate // RATE
        last = np.array([self._last.get(participant, 0)])
        [converted], [final] = stream_audio.upsample(samples[None, :], last, factor)
        self._last[participant] = int(final)
        step = self.rate * FRAME_MS // 1000
        rows = [converted[index : index + step] for index in range(0, len(converted), step)]
        quiet = [bool(stream_audio.silent(row[None, :])[0]) for row in rows]
        for index, (row, is_silent) in enumerate(zip(rows, quiet, strict=True)):
            stamp = stream_audio.timestamp(at + timedelta(seconds=index * FRAME_MS / 1000))
            self._put(stream_audio.audio_data(row.tobytes(), stamp, is_silent, participant))
        hub().wake(self)

    def send_message(self, message: dict) -> None:
        self._put(json.dumps(message))
        hub().wake(self)

    def _put(self, message: str) -> None:
        if len(self._queue) >= self.buffer:
            self._queue.popleft()  # back-pressure: the oldest audio goes, the clock never waits
            self.dropped += 1
        self._queue.append(message)

    # --- the hub's side ---
    async def _run(self) -> None:
        attempts, ever_connected = 0, False
        while True:
            try:
                async with self._connect() as websocket:
                    if not ever_connected:
                        self.on_event("connected", {})
                    ever_connected, attempts = True, 0
                    await websocket.send(json.dumps(self.metadata))
                    await self._pump(websocket)
                    return  # closed on purpose
            except (OSError, WebSocketException, TimeoutError) as exc:
                if self._closing and ever_connected:
                    return
                if attempts >= RECONNECTS or (not ever_connected and attempts >= 1):
                    self.on_event("failed", {"message": f"{type(exc).__name__}: {exc}"})
                    return
                await asyncio.sleep(BACKOFF[min(attempts, len(BACKOFF) - 1)])
                attempts += 1

    async def _pump(self, websocket: Any) -> None:
        """Send buffered messages as they come, until closed; a reader task takes the
        app's messages. Both wait (no polling): an idle stream costs no CPU."""
        reader = asyncio.ensure_future(self._read(websocket))
        try:
            while True:
                self._news.clear()
                while self._queue:
                    await websocket.send(self._queue.popleft())
                    self.sent += 1
                if self._closing:
                    await websocket.close()
                    return
                if reader.done():  # the app closed: reconnect (the buffer is kept)
                    reader.result()
                    raise ConnectionError("the app closed the WebSocket")
                await asyncio.wait(
                    [asyncio.ensure_future(self._news.wait()), reader],
                    return_when=asyncio.FIRST_COMPLETED,
                )
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def _read(self, websocket: Any) -> None:
        with contextlib.suppress(OSError, WebSocketException):
            async for raw in websocket:
                self._received(raw)

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
        return connect(
            self.url,
            host=self.address,
            port=port,
            ssl=ssl.create_default_context() if secure else None,
            server_hostname=parts.hostname if secure else None,
            open_timeout=OPEN_TIMEOUT,
            max_size=2**20,
        )


def send_tick(frames: list[tuple[StreamConnection, str, np.ndarray]], at: datetime) -> None:
    """One 20 ms frame (160 int16 samples at 8 kHz) for each (connection, participant):
    resampled and checked for silence all together, a message each, one hub wake-up."""
    stamp = stream_audio.timestamp(at)
    for rate in {connection.rate for connection, _who, _frame in frames}:
        batch = [item for item in frames if item[0].rate == rate]
        rows = np.stack([frame for _c, _w, frame in batch])
        last = np.array([connection._last.get(who, 0) for connection, who, _f in batch])
        converted, finals = stream_audio.upsample(rows, last, rate // RATE)
        quiet = stream_audio.silent(converted)
        for index, (connection, who, _frame) in enumerate(batch):
            connection._last[who] = int(finals[index])
            message = stream_audio.audio_data(
                converted[index].tobytes(), stamp, bool(quiet[index]), who
            )
            connection._put(message)
    pool = hub()
    for connection in {connection for connection, _who, _frame in frames}:
        pool.wake(connection)


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
