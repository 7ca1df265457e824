"""Streamed audio as ACS wants it, for many streams at once: 8 kHz frames resampled to
16 or 24 kHz and flagged silent with numpy over all the streams of a tick together (one
array operation, not one audioop call per stream), then written as AudioData JSON.

Resampling is linear interpolation from the previous sample: continuous across frames
(each stream and participant keeps its last sample), exact at the 8 kHz samples.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import numpy as np

RATE = 8000
SILENT_RMS = 50


def upsample(rows: np.ndarray, last: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 8 kHz int16 audio (N, L) at `factor` times the rate: (N, L * factor) int16,
    and each row's last input sample (the next call's `last`)."""
    x = rows.astype(np.float32)
    before = np.concatenate([last.astype(np.float32)[:, None], x[:, :-1]], axis=1)
    steps = np.arange(1, factor + 1, dtype=np.float32) / factor
    out = before[:, :, None] + (x - before)[:, :, None] * steps
    shaped = np.rint(out.reshape(len(rows), -1))
    return shaped.astype(np.int16), x[:, -1]


def silent(rows: np.ndarray) -> np.ndarray:
    """Which rows (int16 audio) are silence, by RMS."""
    power = np.mean(np.square(rows.astype(np.float32)), axis=1)
    return np.sqrt(power) < SILENT_RMS


def timestamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def audio_data(pcm: bytes, stamp: str, is_silent: bool, participant: str = "") -> str:
    """One AudioData message (JSON text), written directly: it is sent 50 times a second
    a stream, so no dict and json.dumps on the way."""
    who = f',"participantRawID":{json.dumps(participant)}' if participant else ""
    data = base64.b64encode(pcm).decode()
    flag = "true" if is_silent else "false"
    return (
        f'{{"kind":"AudioData","audioData":{{"timestamp":"{stamp}","data":"{data}",'
        f'"silent":{flag}{who}}}}}'
    )
