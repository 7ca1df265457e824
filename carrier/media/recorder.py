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
import math
import operator
import random
import struct
import sys
import warnings
import wave
from array import array
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import lameenc

from carrier.media.audio import RATE, WIDTH, Audio, samples

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
MP3_KBPS_PER_CHANNEL = 32
MP3_MAX_CHANNELS = 2
_MP3_FRAME_SAMPLES = 576  # per frame for MPEG-2 and 2.5 Layer III
_LAME_ENCODER_DELAY = 576
_LAME_QUALITY = 2  # LAME's best; a minute of audio still encodes in about 0.1 s


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
        data, bit_rate = _mp3(pcm, len(channels)), MP3_KBPS_PER_CHANNEL * 1000 * len(channels)

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


def synthetic_voice(seconds: float, *, seed: int = 0) -> Audio:
    """`seconds` of something that sounds like speech, for the simulated callee: syllables
    of a few harmonics over a 120-220 Hz voice pitch that drifts, vowel-like timbres, a
    syllable-rate envelope and pauses between words. The same seed gives the same audio.

    Its energy is spread over eight gliding harmonics, most of it below the DTMF band, so
    `dtmf.detect` does not take it for a key (checked over many seeds). Raises ValueError
    for a negative length.
    """
    if seconds < 0:
        raise ValueError("a voice cannot last a negative time")
    rng = random.Random(seed)
    total = samples(seconds)
    out = array("h", bytes(total * WIDTH))
    position = samples(rng.uniform(0.05, 0.15))
    while position < total:
        for _syllable in range(rng.randint(1, 3)):
            length = samples(rng.uniform(0.12, 0.28))
            _syllable_into(out, position, length, rng)
            position += length + samples(rng.uniform(0.02, 0.06))
        position += samples(rng.uniform(0.15, 0.4))  # between words
    return Audio(_le_bytes(out))


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


# --- MP3 ------------------------------------------------------------------------------------


def _mp3(pcm: bytes, channels: int) -> bytes:
    """Interleaved 8 kHz PCM as a CBR MP3 that starts with a LAME "Info" frame."""
    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(RATE)
    encoder.set_out_sample_rate(RATE)
    encoder.set_channels(channels)
    encoder.set_bit_rate(MP3_KBPS_PER_CHANNEL * channels)
    encoder.set_quality(_LAME_QUALITY)
    encoder.silence()
    frames = bytes(encoder.encode(pcm) + encoder.flush())
    samples = len(pcm) // (WIDTH * channels)
    return _info_frame(frames, samples, channels) + frames


def _frame_count(frames: bytes) -> int:
    """How many MPEG-2/2.5 Layer III frames `frames` holds (they must be whole)."""
    count = position = 0
    while position < len(frames):
        (header,) = struct.unpack_from(">I", frames, position)
        rate = _SAMPLE_RATES.get((header >> 19) & 3, {}).get((header >> 10) & 3)
        kbps = _LSF_KBPS[(header >> 12) & 15]
        if header >> 21 != 0x7FF or (header >> 17) & 3 != 1 or not rate or not kbps:
            raise RuntimeError(f"the encoder wrote no MPEG-2/2.5 Layer III frame at {position}")
        position += 72_000 * kbps // rate + ((header >> 9) & 1)
        count += 1
    return count


# MPEG version bits -> {sample rate index: Hz}, for the low-sampling-frequency versions.
_SAMPLE_RATES = {0: {0: 11025, 1: 12000, 2: 8000}, 2: {0: 22050, 1: 24000, 2: 16000}}
_LSF_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)


def _info_frame(frames: bytes, samples: int, channels: int) -> bytes:
    """A silent first frame carrying the Xing "Info" header and LAME tag.

    lameenc streams frames and never writes this tag, so a decoder would play LAME's
    576-sample delay, its own 529 and the final frame's padding as extra audio (about 150
    ms at 8 kHz). With the tag, gapless decoders (ffmpeg, mpg123, miniaudio) trim exactly
    to the recorded samples. Layout: Gabriel Bouvigne's "Mp3 info tag" specification.
    """
    count = _frame_count(frames)
    padding = count * _MP3_FRAME_SAMPLES - _LAME_ENCODER_DELAY - samples
    if not 0 <= padding < 4096:
        raise RuntimeError(f"unexpected encoder padding: {padding} samples")
    header = bytearray(frames[:4])
    header[2] &= ~0x02  # no padding slot: the size below is exact
    size = 72_000 * MP3_KBPS_PER_CHANNEL * channels // RATE
    body = bytearray(size)
    body[:4] = header
    position = 4 + (9 if channels == 1 else 17)  # the side information stays zero (silence)
    total = size + len(frames)
    # Flags: frame count and byte count present, no seek table (CBR seeks by arithmetic).
    struct.pack_into(">4sIII", body, position, b"Info", 0x3, count, total)
    lame = position + 16
    struct.pack_into(">9s", body, lame, b"LAME3.100")
    # Bytes 21-23: encoder delay and padding, 12 bits each; 28-31: the whole file's size.
    body[lame + 21 : lame + 24] = ((_LAME_ENCODER_DELAY << 12) | padding).to_bytes(3, "big")
    struct.pack_into(">I", body, lame + 28, total)
    # The tag's CRC-16 covers the frame up to itself.
    struct.pack_into(">H", body, lame + 34, _crc16(bytes(body[: lame + 34])))
    return bytes(body)


def _crc16(data: bytes) -> int:
    """CRC-16/ARC (reflected polynomial 0xA001), the LAME tag's checksum."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _bit in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


# --- synthetic voice ------------------------------------------------------------------------

_TABLE_SIZE = 1024
# Relative harmonic weights of a few vowel-like timbres (the first "formant" peaks at a
# different harmonic in each). Fundamental-heavy, so no two harmonics near DTMF
# frequencies ever carry most of a window's energy.
_VOWELS = (
    (1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08),
    (1.0, 0.5, 0.6, 0.45, 0.25, 0.15, 0.1, 0.06),
    (1.0, 0.8, 0.4, 0.2, 0.22, 0.2, 0.1, 0.05),
    (1.0, 0.6, 0.35, 0.3, 0.3, 0.12, 0.08, 0.06),
)
_PEAK = 0.3 * 32767


def _vowel_tables() -> list[array]:
    """One pitch period of each timbre, normalised to a peak of 1."""
    tables = []
    for weights in _VOWELS:
        period = [
            sum(
                weight * math.sin(2 * math.pi * (harmonic + 1) * i / _TABLE_SIZE)
                for harmonic, weight in enumerate(weights)
            )
            for i in range(_TABLE_SIZE)
        ]
        peak = max(abs(value) for value in period)
        tables.append(array("d", (value / peak for value in period)))
    return tables


_TABLES = _vowel_tables()


def _syllable_into(out: array, position: int, length: int, rng: random.Random) -> None:
    """Write one syllable into `out` (native 16-bit samples) from `position`."""
    table = _TABLES[rng.randrange(len(_TABLES))]
    pitch = rng.uniform(120, 220)
    glide = rng.uniform(-0.2, 0.15)  # relative pitch change over the syllable
    level = _PEAK * rng.uniform(0.6, 1.0)
    end = min(position + length, len(out))
    phase = rng.random()
    for n in range(end - position):
        progress = n / length
        phase = (phase + pitch * (1 + glide * progress) / RATE) % 1.0
        # A parabolic envelope: rises and falls once per syllable, like a vowel nucleus.
        envelope = 4 * progress * (1 - progress)
        out[position + n] = round(level * envelope * table[int(phase * _TABLE_SIZE)])


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
