"""A synthetic voice for the simulated callee: something that sounds like speech, made
from a seed, with its energy away from the DTMF band.
"""

import math
import random
import sys
from array import array

from carrier.media.audio import RATE, WIDTH, Audio, samples


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


def _le_bytes(values: array) -> bytes:
    # Audio is little-endian whatever the machine.
    if sys.byteorder == "big":
        values.byteswap()
    return values.tobytes()
