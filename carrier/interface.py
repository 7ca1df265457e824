"""The carrier boundary: everything that touches a phone network sits behind `Carrier`.

Commands go out as method calls (dial a leg, hang it up, mute it); what happens on the
network comes back as CarrierEvents that the gateway hands to `calls.ingest.ingest`.
Drivers never touch the database: the gateway does that around them.
"""

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol


class LegOutcome:
    """Kinds of CarrierEvent, i.e. what a leg can report."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"
    HUNG_UP = "hung_up"
    INCOMING = "incoming"  # someone is calling one of our numbers (detail: from, to)
    # Real networks, after any leg ended (by either side): what is known about it at the
    # end (sip_code, quality, sip_trace) for the call's record. Changes no state.
    CLOSED = "closed"

    # Outcomes after which the leg is gone.
    ENDS = frozenset({"busy", "no_answer", "rejected", "failed", "hung_up"})
    # Drivers for real networks may add to ending kinds (and ANSWERED): sip_code and reason
    # (the final SIP response; e.g. 404 not found under FAILED), quality (packet, jitter and
    # MOS figures) and sip_trace (every SIP message of the leg). All optional.


class MediaOutcome:
    """Kinds of CarrierEvent about a media operation (detail: op, the operation's id)."""

    PLAY_STARTED = "play_started"
    PLAY_FINISHED = "play_finished"
    PLAY_FAILED = "play_failed"  # detail: index, sub_code, message (a source was unusable)
    # detail: tones, reason (max_tones|stop_tone|inter_tone_timeout); or for speech,
    # recognition ("speech"|"choices"), text, confidence, label (choices), reason
    # (speech|speech_matched|tone_matched)
    RECOGNIZED = "recognized"
    # detail: reason (initial_silence|no_match|incorrect_tone|not_recognized|speech_error)
    RECOGNIZE_FAILED = "recognize_failed"
    TONES_SENT = "tones_sent"
    TONE = "tone"  # continuous DTMF: detail: key (no op)
    # The operation could not be carried out at all (its legs are gone, or the driver
    # failed on it). detail: message
    FAILED = "media_failed"


class RecordingOutcome:
    """Kinds of CarrierEvent about a recording (leg_id empty; detail: recording)."""

    # The recording stopped and its file is rendered. detail: data (bytes), content_type,
    # duration, metadata, end_reason ("stopped" | "callEnded").
    READY = "recording_ready"
    FAILED = "recording_failed"  # detail: message, at_start (it never started)


class StreamOutcome:
    """Kinds of CarrierEvent about a media stream or transcription (leg_id empty; detail:
    stream, the subscription id)."""

    STARTED = "stream_started"  # the app's WebSocket accepted the connection
    STOPPED = "stream_stopped"
    FAILED = "stream_failed"  # detail: message
    # Transcription: detail: participant (rawId), text, confidence, offset and duration
    # (seconds from the start of the transcription)
    TRANSCRIBED = "transcribed"


# SIP-like reasons a leg ends with, as ACS puts them in resultInformation.
SIP_REASONS: dict[str, tuple[int, str]] = {
    LegOutcome.BUSY: (486, "Busy here"),
    LegOutcome.NO_ANSWER: (408, "Request timeout: the callee did not answer"),
    LegOutcome.REJECTED: (603, "Declined"),
    LegOutcome.FAILED: (500, "The call could not be placed"),
}


@dataclass(frozen=True)
class CarrierEvent:
    leg_id: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    # Drivers may redeliver after a crash; ingestion is idempotent on this id.
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class KeyPress:
    """A key the simulated callee presses `at` seconds after the call is answered, or after
    the start of the next prompt played to it (`anchor="prompt"`)."""

    at: float
    key: str
    anchor: str = "answer"


@dataclass(frozen=True)
class Saying:
    """Something the simulated callee says `at` seconds after the answer (or into the
    next prompt, `anchor="prompt"`): `text`, rendered as `audio` (8 kHz PCM)."""

    at: float
    text: str
    audio: "HasSamples"
    anchor: str = "answer"


@dataclass(frozen=True)
class CalleeScript:
    """How a simulated callee behaves (see calls.models.SimulatedCallee)."""

    outcome: str = "answer"
    answer_after: float = 1.0
    hang_up_after: float | None = None
    keys: tuple[KeyPress, ...] = ()
    says: tuple[Saying, ...] = ()


class HasSamples(Protocol):
    """Audio to play: its length in whole samples (8000 a second) is what media timing
    is computed from."""

    @property
    def samples(self) -> int: ...


@dataclass(frozen=True)
class Play:
    op_id: str
    legs: tuple[str, ...]
    audios: tuple[HasSamples, ...]
    loop: bool = False


@dataclass(frozen=True)
class Choice:
    """One of a recognize's choices: said as one of `phrases`, or pressed as `tone`."""

    label: str
    phrases: tuple[str, ...]
    tone: str = ""  # a key ("1", "#"), or none


@dataclass(frozen=True)
class Collect:
    """Play the prompts to one leg and collect DTMF and/or speech from it (ACS recognize).

    `speech` is "" (DTMF only), "speech", "speechOrDtmf" or "choices"; speech ends after
    `end_silence` seconds without voice."""

    op_id: str
    leg: str
    prompts: tuple[HasSamples, ...]
    interrupt_prompt: bool = False
    initial_silence: float = 5.0
    inter_tone: float = 2.0
    max_tones: int = 1
    stop_tones: frozenset[str] = frozenset()
    speech: str = ""
    choices: tuple[Choice, ...] = ()
    end_silence: float = 0.5


@dataclass(frozen=True)
class SendTones:
    op_id: str
    leg: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Dial:
    leg_id: str
    to: str
    caller_id: str
    timeout: float
    script: CalleeScript | None = None
    call: str = ""  # which call the leg joins (recordings hear a call's legs together)
    # Which network carries the leg (CarrierRouter): a SIP trunk's key; "" the default.
    route: str = ""
    # customCallingContext: {"sipHeaders": {...}, "voipHeaders": {...}}; a SIP driver sends
    # sipHeaders as header lines of the INVITE.
    custom_context: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Record:
    """Start recording a call: what its legs and the app's media carry, from now on."""

    recording_id: str
    call: str
    legs: tuple[tuple[str, str], ...]  # (leg id, rawId) of the call's legs now
    channel_type: str = "mixed"
    format: str = "wav"
    channel_order: tuple[str, ...] = ()  # rawIds, for unmixed channels
    paused: bool = False  # pauseOnStart
    # Simulation: the call's people talk in turns (a call no app is in, e.g. peer to peer).
    conversation: bool = False


@dataclass(frozen=True)
class Stream:
    """Stream a call's audio to the app's WebSocket (ACS media streaming), or transcribe
    it there (`transcription_locale` set)."""

    stream_id: str
    call: str
    url: str
    address: str  # where the SSRF guard vetted that the URL's host is
    legs: tuple[tuple[str, str], ...]  # (leg id, rawId) of the call's legs now
    channel: str = "mixed"  # or "unmixed": each participant's audio on its own
    rate: int = 16000  # 16000 or 24000
    bidirectional: bool = False
    transcription_locale: str = ""
    call_connection_id: str = ""
    correlation_id: str = ""


@dataclass(frozen=True)
class Originate:
    """Simulation only: make a scripted caller ring one of our numbers."""

    leg_id: str
    caller: str  # rawId of who calls
    to: str  # the E.164 number called
    ring_timeout: float
    display_name: str = ""
    script: CalleeScript | None = None
    custom_context: dict = field(default_factory=dict, hash=False)  # headers it brings


class Carrier(Protocol):
    def dial(self, command: Dial) -> None: ...

    def answer(self, leg_id: str) -> None: ...

    def reject(self, leg_id: str, sip_code: int) -> None: ...

    def hang_up(self, leg_id: str) -> None: ...

    def set_muted(self, leg_id: str, muted: bool) -> None: ...

    def play(self, command: Play) -> None: ...

    def collect(self, command: Collect) -> None: ...

    def send_tones(self, command: SendTones) -> None: ...

    def stop_media(self, op_id: str) -> None:
        """Stop a play or collection at once; no event follows (the engine knows)."""
        ...

    def listen_dtmf(self, leg_id: str, on: bool) -> None: ...

    def start_recording(self, command: Record) -> None: ...

    def pause_recording(self, recording_id: str) -> None: ...

    def resume_recording(self, recording_id: str) -> None: ...

    def stop_recording(self, recording_id: str) -> None:
        """Stop; a RecordingOutcome.READY event follows with the file. A recording also
        stops by itself when its call's last leg ends."""
        ...

    def start_stream(self, command: Stream) -> None: ...

    def stop_stream(self, stream_id: str) -> None:
        """Stop a media stream or transcription; StreamOutcome.STOPPED follows."""
        ...

    def poll(self) -> list[CarrierEvent]:
        """Events that have happened since the last poll, oldest first."""
        ...

    def live_legs(self) -> set[str]: ...

    # Simulation only (the portal's softphone): a person acts for a remote leg. A driver
    # for a real network has no such person and ignores these.
    def press(self, leg: str, key: str) -> None: ...

    def callee_answer(self, leg_id: str) -> None: ...

    def callee_hang_up(self, leg_id: str) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()


class VirtualClock:
    """A clock tests move by hand, so timing-dependent flows run instantly and repeatably."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)
