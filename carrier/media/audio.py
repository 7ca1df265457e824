"""The one audio format every part of the media path uses: 8 kHz, 16-bit signed
little-endian, mono PCM (what a G.711 telephone leg carries once decoded).

Anything that enters (WAV files to play, espeak-ng output) is converted once, in
`Audio.from_wav`; after that prompts, tones and recordings can be joined and mixed byte for
byte without asking what format they are in.
"""

import io
import operator
import struct
import warnings
import wave
from dataclasses import dataclass

# audioop is deprecated (removed in 3.13) but it is the stdlib's only C-speed sample
# arithmetic, and this project is pinned to 3.11; numpy would be a heavy dependency for
# a handful of conversions.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 8000
WIDTH = 2  # bytes per sample
CHANNELS = 1

_PCM = 0x0001
_EXTENSIBLE = 0xFFFE
# Writers that stream to a pipe cannot seek back to fill in sizes, so they write a
# placeholder (espeak-ng --stdout: 0x7ffff000; ffmpeg and sox: 0xffffffff). A data
# size this large means "until the end of the file", not "truncated".
_STREAMING_SIZE = 0x7FFF0000


class AudioFormatError(ValueError):
    """The bytes are not a RIFF/WAVE file with integer PCM audio we can convert."""


@dataclass(frozen=True)
class Audio:
    """Canonical PCM audio (8000 Hz, 16-bit signed little-endian, mono)."""

    pcm: bytes

    def __post_init__(self) -> None:
        if len(self.pcm) % WIDTH:
            raise ValueError("PCM must hold whole 16-bit samples")

    @property
    def samples(self) -> int:
        return len(self.pcm) // WIDTH

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples / RATE

    def to_wav(self) -> bytes:
        """The audio as a canonical WAV file."""
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(CHANNELS)
            out.setsampwidth(WIDTH)
            out.setframerate(RATE)
            out.writeframes(self.pcm)
        return buffer.getvalue()

    @classmethod
    def from_wav(cls, data: bytes) -> "Audio":
        """Read a PCM WAV file of any common rate, 8/16/24/32-bit, mono or stereo, and
        convert it to the canonical format (downmix, then resample).

        Raises AudioFormatError for anything else: other containers (MP3, RF64), text,
        empty or truncated files, compressed or floating-point WAV formats.
        """
        fmt, frames = _parse_wav(data)
        channels, rate, bits = fmt
        width = bits // 8
        if width == 1:
            # 8-bit WAV is the one unsigned PCM width.
            frames = audioop.bias(frames, 1, -128)
        if width != WIDTH:
            frames = audioop.lin2lin(frames, width, WIDTH)
        if channels == 2:
            frames = audioop.tomono(frames, WIDTH, 0.5, 0.5)
        if rate != RATE:
            frames = _resample(frames, rate)
        return cls(frames)

    def slice(self, first: int, last: int | None = None) -> "Audio":
        """Samples `first` up to `last` (clamped to the audio; `last=None` means to the end).

        Positions are whole samples, never seconds: float positions drift and round
        differently at each end, and a loop stepping by float pieces can stall on a
        remainder of 1e-16 s. Raises TypeError for a position that is not an integer.
        """
        first = min(max(operator.index(first), 0), self.samples)
        end = self.samples if last is None else min(max(operator.index(last), first), self.samples)
        return Audio(self.pcm[first * WIDTH : end * WIDTH])

    def looped(self, first: int, count: int) -> "Audio":
        """`count` samples of this audio played in a loop, from sample `first` of the
        endless repetition (so `first` may exceed the length). Empty audio loops to
        silence. Raises ValueError for a negative position or count."""
        first, count = operator.index(first), operator.index(count)
        if first < 0 or count < 0:
            raise ValueError("a loop position and length cannot be negative")
        if not self.samples:
            return Audio(bytes(count * WIDTH))
        offset = first % self.samples
        repeats = -(-(offset + count) // self.samples)  # ceiling division, in integers
        return Audio((self.pcm * repeats)[offset * WIDTH : (offset + count) * WIDTH])


def samples(seconds: float) -> int:
    """The whole number of samples nearest to `seconds`: how a time on a clock becomes a
    position in audio (once, at the edge; positions are then added as integers)."""
    return round(seconds * RATE)


def silence(seconds: float) -> Audio:
    """`seconds` of digital silence. Raises ValueError for a negative length."""
    if seconds < 0:
        raise ValueError("silence cannot be negative")
    return Audio(bytes(samples(seconds) * WIDTH))


def concat(*audios: Audio) -> Audio:
    """The audios one after the other."""
    return Audio(b"".join(audio.pcm for audio in audios))


def mix(a: Audio, b: Audio) -> Audio:
    """Both audios at once, from the same start: sample-wise sum, clipped to 16 bits, as
    long as the longer one (the shorter is padded with silence)."""
    length = max(len(a.pcm), len(b.pcm))
    # audioop.add saturates instead of wrapping around, which is the clipping we want.
    return Audio(audioop.add(a.pcm.ljust(length, b"\0"), b.pcm.ljust(length, b"\0"), WIDTH))


def _parse_wav(data: bytes) -> tuple[tuple[int, int, int], bytes]:
    """((channels, rate, bits), whole frames) of a PCM WAV file. Raises AudioFormatError."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFormatError("not a RIFF/WAVE file")
    fmt: tuple[int, int, int] | None = None
    position = 12
    # The RIFF size is not checked: streaming writers leave a placeholder there too.
    while position + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, position)
        body = position + 8
        available = len(data) - body
        if chunk_id == b"data":
            if fmt is None:
                raise AudioFormatError("the data chunk comes before the fmt chunk")
            if size > available:
                if size < _STREAMING_SIZE:
                    raise AudioFormatError(
                        f"truncated: the data chunk declares {size} bytes, {available} follow"
                    )
                size = available
            block = fmt[0] * fmt[2] // 8
            frames = data[body : body + size]
            return fmt, frames[: len(frames) - len(frames) % block]
        if size > available:
            raise AudioFormatError(f"truncated {chunk_id!r} chunk")
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[body : body + size])
        position = body + size + (size & 1)  # chunks are padded to even lengths
    raise AudioFormatError("no fmt chunk" if fmt is None else "no data chunk")


def _parse_fmt(body: bytes) -> tuple[int, int, int]:
    if len(body) < 16:
        raise AudioFormatError("the fmt chunk is too short")
    tag, channels, rate, _byte_rate, _block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == _EXTENSIBLE and len(body) >= 26:
        # WAVE_FORMAT_EXTENSIBLE names the real format in the first bytes of its GUID.
        (tag,) = struct.unpack_from("<H", body, 24)
    if tag != _PCM:
        raise AudioFormatError(f"WAV format 0x{tag:04x} is not integer PCM")
    if bits not in (8, 16, 24, 32):
        raise AudioFormatError(f"{bits}-bit samples are not supported")
    if channels not in (1, 2):
        raise AudioFormatError(f"{channels} channels are not supported (mono or stereo only)")
    if not 1000 <= rate <= 384_000:
        raise AudioFormatError(f"a sample rate of {rate} Hz is not plausible")
    return channels, rate, bits


def _resample(frames: bytes, rate: int) -> bytes:
    if rate > RATE * 1.5:
        # ratecv only interpolates linearly, so everything above 4 kHz would fold back
        # into the telephone band as harsh aliasing (and could fake DTMF energy). A box
        # filter with its first zero near 7 kHz removes most of it at C speed.
        taps = round(rate / 7000)
        if taps > 1:
            smoothed = audioop.mul(frames, WIDTH, 1 / taps)
            for shift in range(1, taps):
                delayed = bytes(shift * WIDTH) + frames[: len(frames) - shift * WIDTH]
                smoothed = audioop.add(smoothed, audioop.mul(delayed, WIDTH, 1 / taps), WIDTH)
            frames = smoothed
    converted, _state = audioop.ratecv(frames, WIDTH, 1, rate, RATE, None)
    return converted
