"""G.711 µ-law and A-law (ITU-T G.711) as numpy lookup tables, bit-exact both ways.

The stdlib's audioop is gone in Python 3.13 and `audioop-lts` installs only there, so the
codec is tables: encoding indexes a 65,536-entry table by the 16-bit sample, decoding a
256-entry one. The tables are built once at import (vectorised, a few ms) with the
classic Sun reference algorithm, the same one audioop implements, so the bytes on the
wire are identical to what any other G.711 implementation sends.
"""

from __future__ import annotations

import numpy as np

PCMU, PCMA = 0, 8
CODECS = (PCMU, PCMA)
_SEG_UEND = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_BIAS, _CLIP = 0x84, 8159


def _linear_to_ulaw(samples: np.ndarray) -> np.ndarray:
    value = samples.astype(np.int32) >> 2  # 14-bit
    mask = np.where(value < 0, 0x7F, 0xFF)
    value = np.minimum(np.abs(value), _CLIP) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_UEND, value, side="left")
    quant = (value >> np.minimum(seg + 1, 15)) & 0xF
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | quant)
    return (code ^ mask).astype(np.uint8)


def _ulaw_to_linear(codes: np.ndarray) -> np.ndarray:
    u = (~codes.astype(np.int32)) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype(np.int16)


def _linear_to_alaw(samples: np.ndarray) -> np.ndarray:
    value = samples.astype(np.int32) >> 3  # 13-bit
    negative = value < 0
    mask = np.where(negative, 0x55, 0xD5)
    value = np.where(negative, -value - 1, value)
    seg = np.searchsorted(_SEG_AEND, value, side="left")
    shift = np.where(seg < 2, 1, np.minimum(seg, 7))
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((value >> shift) & 0xF))
    return (code ^ mask).astype(np.uint8)


def _alaw_to_linear(codes: np.ndarray) -> np.ndarray:
    a = codes.astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(
        seg == 0, t + 8, np.where(seg == 1, t + 0x108, (t + 0x108) << np.maximum(seg - 1, 0))
    )
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32)
_ALL_CODES = np.arange(256, dtype=np.int32)
# Encode tables are indexed by the sample's 16 bits read as unsigned (uint16 view).
_ENCODE = {
    PCMU: np.roll(_linear_to_ulaw(_ALL_SAMPLES), -32768),
    PCMA: np.roll(_linear_to_alaw(_ALL_SAMPLES), -32768),
}
_DECODE = {PCMU: _ulaw_to_linear(_ALL_CODES), PCMA: _alaw_to_linear(_ALL_CODES)}


def encode(pcm: np.ndarray, pt: int) -> bytes:
    """16-bit samples (int16 array, any shape: rows are laid out one after another) ->
    G.711 bytes for payload type `pt` (0 or 8)."""
    # np.take: a third of fancy indexing's time on a tick's 32,000 samples.
    return np.take(_ENCODE[pt], pcm.astype(np.int16, copy=False).view(np.uint16)).tobytes()


def decode(payload: bytes, pt: int) -> np.ndarray:
    """G.711 bytes -> int16 samples."""
    return np.take(_DECODE[pt], np.frombuffer(payload, dtype=np.uint8))


def encode_bytes(pcm: bytes, pt: int) -> bytes:
    """Little-endian 16-bit PCM bytes -> G.711 bytes."""
    return encode(np.frombuffer(pcm, dtype="<i2"), pt)


def decode_bytes(payload: bytes, pt: int) -> bytes:
    """G.711 bytes -> little-endian 16-bit PCM bytes."""
    return decode(payload, pt).astype("<i2").tobytes()
