"""A small jitter buffer that re-chunks whatever packetisation arrives into 20 ms frames.

Peers send 10, 20, 30 ms or odd packet sizes (SIPp's sample audio is 30 ms: pitfall 2),
while the media clock consumes exactly 160 samples a tick. Packets are placed by their RTP
timestamp, so loss becomes silence of the right length, duplicates and late packets are
dropped, and reordering within the buffer is repaired. Playout starts once a packet plus
a frame is buffered (and again after an underrun), so 30 ms packets never starve a
20 ms tick; the depth is capped so latency cannot creep up.
"""

from __future__ import annotations

import numpy as np

FRAME = 160  # samples per 20 ms tick at 8 kHz
MAX_GAP = 8000  # a timestamp jump above 1 s is a new talk spurt, not loss
MAX_DEPTH = 1600  # samples (200 ms): beyond this the oldest audio is dropped


class JitterBuffer:
    def __init__(self, *, min_depth: int = 2 * FRAME) -> None:
        self._min_depth = min_depth
        self._buffer = np.zeros(0, dtype=np.int16)
        self._next_ts: int | None = None  # RTP timestamp of the sample after the buffer
        self._target = min_depth
        self._playing = False
        self.late = 0  # packets dropped because their time had already played
        self.underruns = 0

    def reset(self) -> None:
        """Forget the timeline (a new SSRC, a re-INVITE)."""
        self._buffer = np.zeros(0, dtype=np.int16)
        self._next_ts = None
        self._playing = False

    @property
    def depth(self) -> int:
        return len(self._buffer)

    def put(self, timestamp: int, samples: np.ndarray, *, marker: bool = False) -> None:
        """Add a decoded packet that starts at RTP `timestamp`."""
        if not len(samples):
            return
        self._target = max(self._min_depth, len(samples) + FRAME)
        if self._next_ts is None:
            self._next_ts = timestamp
        ahead = (timestamp - self._next_ts) & 0xFFFFFFFF
        if ahead >= 0x80000000:  # behind the end of the buffer: overlap or late
            behind = 0x100000000 - ahead
            start = len(self._buffer) - behind
            if start < 0 or behind > len(self._buffer):
                self.late += 1
                return
            # A packet that fills a gap we had padded with silence (reordering).
            end = min(start + len(samples), len(self._buffer))
            self._buffer[start:end] = samples[: end - start]
            rest = samples[end - start :]
            if len(rest):
                self._buffer = np.concatenate([self._buffer, rest])
                self._next_ts = (self._next_ts + len(rest)) & 0xFFFFFFFF
            return
        if ahead > MAX_GAP or (marker and ahead > 0):
            ahead = 0  # a new talk spurt: continue the timeline without a silent gap
        pieces = [self._buffer]
        if ahead:
            pieces.append(np.zeros(ahead, dtype=np.int16))
        pieces.append(samples)
        self._buffer = np.concatenate(pieces)
        self._next_ts = (timestamp + len(samples)) & 0xFFFFFFFF
        if len(self._buffer) > MAX_DEPTH:
            self._buffer = self._buffer[-self._target :]

    def pop(self) -> np.ndarray | None:
        """The next 20 ms frame, or None while buffering (the caller plays silence)."""
        if not self._playing:
            if len(self._buffer) < self._target:
                return None
            self._playing = True
        if len(self._buffer) < FRAME:
            self._playing = False  # ran dry: buffer up again before playing on
            self.underruns += 1
            return None
        frame, self._buffer = self._buffer[:FRAME], self._buffer[FRAME:]
        return frame
