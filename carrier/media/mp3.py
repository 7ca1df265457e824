"""MP3 files of 8 kHz PCM: LAME through lameenc, plus the "Info" frame that makes gapless
decoders trim exactly to the recorded samples (lameenc streams frames and never writes it).
"""

import struct

import lameenc

from carrier.media.audio import RATE, WIDTH

MP3_KBPS_PER_CHANNEL = 32
_LAME_ENCODER_DELAY = 576
_LAME_QUALITY = 2  # LAME's best; a minute of audio still encodes in about 0.1 s
_MP3_FRAME_SAMPLES = 576  # per frame for MPEG-2 and 2.5 Layer III


def encode(pcm: bytes, channels: int) -> bytes:
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
