"""Call recording: the audio a call carried, cut to what was recorded, as WAV or MP3.

While a call runs, the carrier feeds a `RecordingTape`: each piece of audio goes on the
track of whoever was heard (prompts the app played on "app", what a callee says or presses
on that participant's track), placed on the call's clock; `start`, `pause`, `resume` and
`stop` mark what is recorded. Every position on the tape is a whole sample of that clock
(8000 a second), never a float of seconds, so pieces meet exactly and lengths add up.
`render` then builds the file: paused spans and everything before start or after stop are
left out of every channel, identically, and the metadata says where the cuts were.

Pure and in memory (no database, no I/O), so the carrier can render on stop and a test can
check the bytes directly.
"""

import io
import itertools
import operator
import sys
import warnings
import wave
from array import array
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from carrier.media import mp3
from carrier.media.audio import RATE, WIDTH, Audio

# As in audio.py: deprecated, but the stdlib's only C-speed sample arithmetic on 3.11.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ChannelType = Literal["mixed", "unmixed"]
Format = Literal["wav", "mp3"]

APP = "app"  # the track of what the application played to everyone
CONTENT_TYPES: dict[str, str] = {"wav": "audio/wav", "mp3": "audio/mpeg"}
CHANNEL_TYPES = ("mixed", "unmixed")

# MP3: MPEG-2.5 Layer III at the recording's own 8 kHz, so nothing is resampled and the
# encoder delay is LAME's fixed 576 samples (a resampler would add its own). 32 kbps per
# channel is transparent enough for 4 kHz telephone audio, DTMF included.
MP3_MAX_CHANNELS = 2


class RecordingStateError(Exception):
    """A recording mark or render that the recording's state does not allow."""


class UnsupportedFormat(ValueError):
    """A format or channel layout this recorder cannot produce (the API answers 400)."""


class RecordingState(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"  # terminal: a later recording of the same call is a new tape


_S = RecordingState
# Each mark: the states it may follow, and the state it leads to.
_MARKS: dict[str, tuple[frozenset[RecordingState], RecordingState]] = {
    "start": (frozenset({_S.NEW}), _S.ACTIVE),
    "start paused": (frozenset({_S.NEW}), _S.PAUSED),
    "pause": (frozenset({_S.ACTIVE}), _S.PAUSED),
    "resume": (frozenset({_S.PAUSED}), _S.ACTIVE),
    "stop": (frozenset({_S.ACTIVE, _S.PAUSED}), _S.STOPPED),
}


@dataclass
class Track:
    """What one participant (or the app, key "app") was heard saying or playing, as
    (first call sample, audio) segments in the order they were added."""

    key: str
    segments: list[tuple[int, Audio]] = field(default_factory=list)


@dataclass(frozen=True)
class Rendered:
    """A rendered recording file and what describes it."""

    data: bytes
    content_type: str
    duration: float  # seconds of audio: the recorded time less the paused spans
    channels: int
    metadata: dict[str, Any]  # JSON-serializable; see `render`


class RecordingTape:
    """One recording of one call: the audio heard on each track and the recording marks.

    Audio may be added before the recording starts (a prompt already playing): only the
    part inside active spans is rendered. Marks must come in a valid order and never go
    back in time. Times are call samples (`calls.media.audio.samples(seconds)`).
    """

    def __init__(self) -> None:
        self._tracks: dict[str, Track] = {}
        self._state = RecordingState.NEW
        # (call sample, state entered), in order; the first is the start.
        self._marks: list[tuple[int, RecordingState]] = []

    @property
    def state(self) -> RecordingState:
        return self._state

    @property
    def tracks(self) -> list[Track]:
        """The tracks in the order their first audio was added."""
        return list(self._tracks.values())

    def add(self, key: str, at: int, audio: Audio) -> None:
        """Put `audio` on `key`'s track, starting at call sample `at`. Overlapping audio
        on one track is summed.

        Raises ValueError for an empty key or a negative time, TypeError for a time that
        is not a whole sample, RecordingStateError once the recording has stopped (its
        file may already be rendered).
        """
        if not key:
            raise ValueError("a track needs a key")
        at = _check_time(at)
        if self._state is RecordingState.STOPPED:
            raise RecordingStateError("the recording has stopped; it takes no more audio")
        self._tracks.setdefault(key, Track(key)).segments.append((at, audio))

    def start(self, at: int, *, paused: bool = False) -> None:
        """Start recording at call sample `at`; `paused=True` (pauseOnStart) starts in a
        pause, so nothing is recorded until `resume`.

        Raises RecordingStateError if already started, ValueError for a negative time.
        """
        self._mark("start paused" if paused else "start", at)

    def pause(self, at: int) -> None:
        """Pause at call sample `at`. Raises RecordingStateError unless recording."""
        self._mark("pause", at)

    def resume(self, at: int) -> None:
        """Resume at call sample `at`. Raises RecordingStateError unless paused."""
        self._mark("resume", at)

    def stop(self, at: int) -> None:
        """Stop at call sample `at` (also ends a pause). Raises RecordingStateError unless
        recording or paused."""
        self._mark("stop", at)

    def _mark(self, mark: str, at: int) -> None:
        at = _check_time(at)
        allowed, to = _MARKS[mark]
        if self._state not in allowed:
            raise RecordingStateError(f"cannot {mark} a recording that is {self._state}")
        if self._marks and at < self._marks[-1][0]:
            raise RecordingStateError(
                f"cannot {mark} at sample {at}, before the previous mark at sample "
                f"{self._marks[-1][0]}"
            )
        self._marks.append((at, to))
        self._state = to

    def spans(self) -> list[tuple[int, int, RecordingState]]:
        """Each stretch between marks as (first call sample, end call sample, state),
        ACTIVE or PAUSED, in order. Empty before the recording starts."""
        marks = self._marks
        return [(start, end, state) for (start, state), (end, _next) in itertools.pairwise(marks)]


def render(
    tape: RecordingTape,
    *,
    channel_type: ChannelType = "mixed",
    channel_order: list[str] | None = None,
    format: Format = "wav",  # shadows the builtin to match the ACS option's name
) -> Rendered:
    """Render a stopped recording.

    "mixed" sums every track (clipped to 16 bits) into one channel. "unmixed" gives each
    track its own channel: first the keys in `channel_order` (channelAffinity; a listed key
    never heard gets a silent channel), then the other tracks heard while recording, in the
    order they were first heard. `channel_order` is ignored when mixed. WAV is 8 kHz 16-bit
    PCM with that many interleaved channels; MP3 is 8 kHz MPEG-2.5 at 32 kbps a channel,
    with a LAME tag that lets decoders trim the encoder's delay and padding exactly.

    `metadata` holds: format, contentType, channelType, sampleRate, bitRate, channels,
    channelMap [{channel, participant}] (mixed: every participant on 0), participants
    (in channel or first-heard order), recordingStart / recordingStop and recordedSeconds
    (call seconds), and pauses [{start, end} since the recording started, callStart and
    callEnd on the call's clock, offset: where in the audio the cut is}].

    Raises UnsupportedFormat for a format other than wav/mp3 (mp4 is video), an unknown
    channel type, or MP3 for more than two unmixed channels; ValueError for a key listed
    twice in `channel_order`; RecordingStateError unless the recording has stopped.
    """
    if format not in CONTENT_TYPES:
        raise UnsupportedFormat(
            f"recording format {format!r} is not supported: this server records audio "
            f"only, as wav or mp3"
        )
    if channel_type not in CHANNEL_TYPES:
        raise UnsupportedFormat(f"recording channel type {channel_type!r} is not supported")
    order = list(channel_order or []) if channel_type == "unmixed" else []
    if len(set(order)) != len(order):
        raise ValueError("channel order lists a participant twice")
    if tape.state is not RecordingState.STOPPED:
        raise RecordingStateError(f"only a stopped recording renders (this one is {tape.state})")

    spans = tape.spans()
    active = [(start, end) for start, end, state in spans if state is RecordingState.ACTIVE]
    length = sum(end - start for start, end in active)
    heard = _first_heard(tape.tracks, active)
    # Ties (heard at the same sample) keep the order the tracks were added in.
    participants = [key for _at, key in sorted(heard, key=lambda item: item[0])]
    if channel_type == "unmixed":
        # Listed keys first, heard or not; the rest as first heard.
        participants = order + [key for key in participants if key not in order]
        if len(participants) > MP3_MAX_CHANNELS and format == "mp3":
            raise UnsupportedFormat(
                f"an unmixed mp3 holds at most {MP3_MAX_CHANNELS} channels and this "
                f"recording has {len(participants)} participants; use wav for unmixed "
                f"recordings of more than {MP3_MAX_CHANNELS}"
            )

    tracks = {track.key: track for track in tape.tracks}
    per_track = {
        key: _place(tracks[key], active, length) if key in tracks else bytes(length * WIDTH)
        for key in participants
    }
    if channel_type == "mixed":
        channels = [_mix(list(per_track.values()), length)]
        channel_map = [{"channel": 0, "participant": key} for key in participants]
    else:
        # With nobody heard there is still one (silent) channel: a file needs one.
        channels = list(per_track.values()) or [bytes(length * WIDTH)]
        channel_map = [{"channel": i, "participant": key} for i, key in enumerate(participants)]
    pcm = _interleave(channels)

    if format == "wav":
        data, bit_rate = _wav(pcm, len(channels)), RATE * WIDTH * 8 * len(channels)
    else:
        data, bit_rate = (
            mp3.encode(pcm, len(channels)),
            mp3.MP3_KBPS_PER_CHANNEL * 1000 * len(channels),
        )

    first, last = spans[0][0], spans[-1][1]
    metadata = {
        "format": format,
        "contentType": CONTENT_TYPES[format],
        "channelType": channel_type,
        "sampleRate": RATE,
        "bitRate": bit_rate,
        "channels": len(channels),
        "channelMap": channel_map,
        "participants": participants,
        "recordingStart": first / RATE,
        "recordingStop": last / RATE,
        "recordedSeconds": length / RATE,
        "pauses": _pauses(spans, first),
    }
    return Rendered(
        data=data,
        content_type=CONTENT_TYPES[format],
        duration=length / RATE,
        channels=len(channels),
        metadata=metadata,
    )


# --- rendering ------------------------------------------------------------------------------


def _first_heard(tracks: list[Track], active: list[tuple[int, int]]) -> list[tuple[int, str]]:
    """(first recorded call sample, key) of each track with audio inside an active span."""
    heard = []
    for track in tracks:
        moments = [
            max(start, at)
            for at, length in _sample_segments(track)
            for start, end in active
            if at < end and at + length > start and length
        ]
        if moments:
            heard.append((min(moments), track.key))
    return heard


def _sample_segments(track: Track) -> list[tuple[int, int]]:
    return [(at, audio.samples) for at, audio in track.segments]


def _place(track: Track, active: list[tuple[int, int]], length: int) -> bytes:
    """The track's channel: its audio inside the active spans, the spans joined end to end
    (`length` samples in all)."""
    out = bytearray(length * WIDTH)
    offset = 0  # where the current span begins in the output
    for start, end in active:
        for at, audio in track.segments:
            first, last = max(start, at), min(end, at + audio.samples)
            if first >= last:
                continue
            piece = audio.pcm[(first - at) * WIDTH : (last - at) * WIDTH]
            where = (offset + first - start) * WIDTH
            # Audio overlapping on one track (a tone over speech) adds, saturating.
            out[where : where + len(piece)] = audioop.add(
                bytes(out[where : where + len(piece)]), piece, WIDTH
            )
        offset += end - start
    return bytes(out)


def _mix(channels: list[bytes], length: int) -> bytes:
    """The channels summed, clipped once at the end.

    Summing in 32 bits (each sample scaled to 1/8 of its range, so eight full-scale
    sources fit) keeps the clipping from depending on the order of the tracks, as
    pairwise saturating adds would.
    """
    if not channels:
        return bytes(length * WIDTH)
    if len(channels) == 1:
        return channels[0]
    total = bytes(length * 4)
    for pcm in channels:
        total = audioop.add(total, audioop.mul(audioop.lin2lin(pcm, WIDTH, 4), 4, 1 / 8), 4)
    # Back up by 8 (saturating at 32 bits) and keep the top 16 bits: a clipped sum.
    return audioop.lin2lin(audioop.mul(total, 4, 8), 4, WIDTH)


def _interleave(channels: list[bytes]) -> bytes:
    """One frame per sample time with a sample from each channel, in channel order."""
    if len(channels) == 1:
        return channels[0]
    count = len(channels)
    # Only whole 16-bit samples move, so the machine's byte order does not matter here.
    out = array("h", bytes(len(channels[0]) * count))
    for index, pcm in enumerate(channels):
        out[index::count] = array("h", pcm)
    return out.tobytes()


def _pauses(spans: list[tuple[int, int, RecordingState]], first: int) -> list[dict[str, float]]:
    pauses = []
    offset = 0  # audio samples recorded so far
    for start, end, state in spans:
        if state is RecordingState.PAUSED:
            pauses.append(
                {
                    "start": (start - first) / RATE,
                    "end": (end - first) / RATE,
                    "callStart": start / RATE,
                    "callEnd": end / RATE,
                    "offset": offset / RATE,
                }
            )
        else:
            offset += end - start
    return pauses


def _wav(pcm: bytes, channels: int) -> bytes:
    # Plain PCM (format tag 1) even above two channels: WAVE_FORMAT_EXTENSIBLE would name
    # speaker positions these channels do not have, and Python 3.11's wave cannot read it.
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(WIDTH)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return buffer.getvalue()


# --- helpers --------------------------------------------------------------------------------


def _check_time(at: int) -> int:
    at = operator.index(at)  # a float of seconds here would be a unit mistake
    if at < 0:
        raise ValueError(f"a call time must be a non-negative number of samples, not {at}")
    return at


def _le_bytes(samples: array) -> bytes:
    # Audio is little-endian whatever the machine.
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()
