"""DTMF: the keypad's dual tones, their ACS names, and a Goertzel detector.

Each key is the sum of one row and one column frequency (ITU-T Q.23). The simulated
carrier puts real tones into the audio, so recordings carry what was pressed and tests
can find it again with `detect`.
"""

import functools
import math
import operator
import sys
from array import array

from carrier.media.audio import RATE, Audio

ROWS = (697, 770, 852, 941)
COLUMNS = (1209, 1336, 1477, 1633)
KEYPAD = ("123A", "456B", "789C", "*0#D")

FREQUENCIES: dict[str, tuple[int, int]] = {
    key: (ROWS[row], COLUMNS[column])
    for row, keys in enumerate(KEYPAD)
    for column, key in enumerate(keys)
}

# ACS DtmfTone names (as in recognize results and sendDtmfTones requests).
TONE_NAMES: dict[str, str] = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "A": "a",
    "B": "b",
    "C": "c",
    "D": "d",
    "#": "pound",
    "*": "asterisk",
}
KEYS: dict[str, str] = {name: key for key, name in TONE_NAMES.items()}

# Detection thresholds. A tone component must reach about -36 dBFS; a weak row or column
# must still stand 8 dB over every other DTMF frequency (speech spreads its energy, a key
# concentrates it); row and column may differ by 10 dB (twist); and the two tones must
# carry most of the window's energy, so a loud voice with a stray harmonic is no key.
_MIN_AMPLITUDE = 500.0  # per component, in 16-bit sample units (full scale 32767)
_DOMINANCE = 10 ** (8 / 10)
_MAX_TWIST = 10 ** (10 / 10)
_MIN_TONE_SHARE = 0.6

_ORDER = ROWS + COLUMNS


# Built sample by sample in Python (~1 ms for 100 ms of tone): the SIP media tick asks for
# the same few tones for every key it sends or receives (15 % of its thread at 200 calls
# sending keys), so each is built once. Audio is immutable, so sharing it is safe.
@functools.lru_cache(maxsize=512)
def tone(key: str, seconds: float = 0.1, amplitude: float = 0.5) -> Audio:
    """The dual tone of `key` ("0"-"9", "A"-"D", "*", "#"), `seconds` long, peaking at
    `amplitude` of full scale (each component gets half).

    Raises ValueError for an unknown key or an amplitude outside (0, 1].
    """
    try:
        low, high = FREQUENCIES[key.upper()]
    except KeyError:
        raise ValueError(f"not a DTMF key: {key!r}") from None
    if not 0 < amplitude <= 1:
        raise ValueError("amplitude must be in (0, 1]")
    peak = amplitude * 32767 / 2
    step_low, step_high = 2 * math.pi * low / RATE, 2 * math.pi * high / RATE
    samples = array(
        "h",
        (
            round(peak * (math.sin(step_low * n) + math.sin(step_high * n)))
            for n in range(round(seconds * RATE))
        ),
    )
    return Audio(_to_le_bytes(samples))


def detect(audio: Audio, *, window: float = 0.04) -> list[tuple[float, str]]:
    """Each distinct key press in `audio` as (start in seconds, key), in order.

    Windows of `window` seconds, half overlapping, are classified with the Goertzel
    algorithm; a key held over consecutive windows is one press. Tones and gaps must last
    at least 1.5 windows (60 ms by default) to be resolved. The start is refined from
    how much of the first detecting window the tone fills, so it is usually within a few
    milliseconds and always within one window.
    """
    size = max(round(window * RATE), 8)
    hop = size // 2
    samples = array("h")
    samples.frombytes(audio.pcm)
    if sys.byteorder == "big":
        samples.byteswap()
    coefficients = [2 * math.cos(2 * math.pi * f / RATE) for f in _ORDER]
    floor = size * _MIN_AMPLITUDE**2  # window energy of two tones at the minimum amplitude

    presses: list[tuple[float, str]] = []
    current: str | None = None
    for start in range(0, max(len(samples) - size + 1, 1), hop):
        frame = samples[start : start + size]
        energy = float(sum(map(operator.mul, frame, frame)))
        # Most windows of a call are quiet; skip the Goertzel work for them.
        found = None if energy < floor else _classify(frame, energy, coefficients)
        if found is None:
            current = None
            continue
        key, level = found
        if key != current:
            presses.append((_onset(samples, start, size, key, level, coefficients), key))
        current = key
    return presses


def _goertzel(frame: array, coefficients: list[float]) -> list[float]:
    """Squared magnitude of each frequency's DFT term over the frame."""
    powers = []
    for coefficient in coefficients:
        s1 = s2 = 0.0
        for x in frame:
            s1, s2 = x + coefficient * s1 - s2, s1
        powers.append(s1 * s1 + s2 * s2 - coefficient * s1 * s2)
    return powers


def _classify(frame: array, energy: float, coefficients: list[float]) -> tuple[str, float] | None:
    """(key, amplitude of its weaker component) if the frame holds one clear key."""
    powers = _goertzel(frame, coefficients)
    rows, columns = powers[:4], powers[4:]
    row = max(range(4), key=rows.__getitem__)
    column = max(range(4), key=columns.__getitem__)
    weaker = min(rows[row], columns[column])
    others = [p for i, p in enumerate(rows) if i != row]
    others += [p for i, p in enumerate(columns) if i != column]
    if weaker < _DOMINANCE * max(others):
        return None
    if max(rows[row], columns[column]) > _MAX_TWIST * weaker:
        return None
    # A sinusoid of amplitude A over N samples gives |X|^2 = (A N / 2)^2.
    n = len(frame)
    amplitudes = [2 * math.sqrt(p) / n for p in (rows[row], columns[column])]
    if min(amplitudes) < _MIN_AMPLITUDE:
        return None
    # A sinusoid of amplitude A carries N A^2 / 2 of the window's energy.
    if n * sum(a * a for a in amplitudes) / 2 < _MIN_TONE_SHARE * energy:
        return None
    return KEYPAD[row][column], min(amplitudes)


def _onset(
    samples: array, start: int, size: int, key: str, level: float, coefficients: list[float]
) -> float:
    """When the press that the window at `start` first detected began, in seconds.

    The first detecting window is usually only partly filled by the tone; its measured
    amplitude, against the full amplitude a window later, tells by how much.
    """
    later = samples[start + size : start + 2 * size]
    full = _classify(later, float(sum(map(operator.mul, later, later))), coefficients)
    if full is None or full[0] != key or full[1] <= 0:
        return start / RATE
    filled = min(level / full[1], 1.0)
    return (start + size * (1 - filled)) / RATE


def _to_le_bytes(samples: array) -> bytes:
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()
