"""What a speech recognize's outcome is, and where an utterance starts and ends in a live
stream of 20 ms frames: shared by both carriers, so a recognize over SIP answers exactly
as one on the simulated carrier does.

`outcome` turns the recognizer's finished Future into the MediaOutcome kind and detail
(ACS subcodes follow from `reason`); `Segmenter` is the voice-activity detector that
real-time audio (a SIP leg's decoded frames) goes through: an utterance starts at its
first voiced frame and ends after HANGOVER of unvoiced ones, and its voiced part is what
the recognizer gets.
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np

from carrier.interface import Choice, Collect, MediaOutcome
from carrier.media import speech

# Unvoiced time that ends an utterance (the gaps inside and between words are shorter).
HANGOVER = 0.3
FRAME_SECONDS = 0.02
# Longest utterance kept (a stream of talk is cut into pieces this long at most).
MAX_UTTERANCE = 15.0


def phrases_of(command: Collect) -> list[str] | None:
    """The grammar's phrases for a choices recognize; None (free speech) otherwise."""
    if command.speech != "choices":
        return None
    return [phrase for choice in command.choices for phrase in choice.phrases]


def outcome(command: Collect, future: Future) -> tuple[str, dict]:
    """(MediaOutcome kind, detail without op) for a speech recognize whose utterance the
    recognizer decoded in `future` (not done: it took too long, a speech_error)."""
    failed = MediaOutcome.RECOGNIZE_FAILED
    error = future.exception() if future.done() else TimeoutError("recognizer timed out")
    if error is not None:
        return failed, {"reason": "speech_error", "message": str(error)}
    result: speech.Result = future.result()
    if command.speech != "choices":
        if not result.text:
            return failed, {"reason": "not_recognized"}
        detail = {"recognition": "speech", "text": result.text, "confidence": result.confidence}
        return MediaOutcome.RECOGNIZED, {**detail, "reason": "speech"}
    for choice in command.choices:
        if result.matched and result.text in map(speech.normalize_phrase, choice.phrases):
            detail = {"recognition": "choices", "label": choice.label, "text": result.text}
            return MediaOutcome.RECOGNIZED, {
                **detail,
                "confidence": result.confidence,
                "reason": "speech_matched",
            }
    return failed, {"reason": "no_match"}


def choice_pressed(choices: tuple[Choice, ...], key: str) -> tuple[str, dict]:
    """A key pressed during a choices recognize: the choice with that tone, or a failure."""
    for choice in choices:
        if choice.tone and choice.tone == key:
            detail = {"recognition": "choices", "label": choice.label, "text": ""}
            return MediaOutcome.RECOGNIZED, {**detail, "confidence": 1.0, "reason": "tone_matched"}
    return MediaOutcome.RECOGNIZE_FAILED, {"reason": "incorrect_tone"}


def voiced(frame: np.ndarray | None) -> bool:
    """Is this 20 ms frame speech (RMS over the recognizer's voicing threshold)?"""
    if frame is None or not len(frame):
        return False
    rms = float(np.sqrt(np.mean(frame.astype(np.float32) ** 2)))
    return rms > speech.VOICED_RMS


class Segmenter:
    """Cuts a leg's frames into utterances. `feed(frame)` returns "start" on an
    utterance's first voiced frame, "end" once it is over (then `take()` gives its voiced
    audio, 8 kHz int16 bytes), else None."""

    def __init__(self, hangover: float = HANGOVER) -> None:
        self._hangover = max(1, round(hangover / FRAME_SECONDS))
        self._frames: list[np.ndarray] = []
        self._quiet = 0  # unvoiced frames since the last voiced one
        self.speaking = False
        self.started_at_frame = 0  # frames fed before the utterance's first voiced one
        self._fed = 0

    def feed(self, frame: np.ndarray | None) -> str | None:
        self._fed += 1
        is_voiced = voiced(frame)
        if not self.speaking:
            if not is_voiced:
                return None
            self.speaking, self._quiet = True, 0
            self.started_at_frame = self._fed - 1
            self._frames = [frame]  # type: ignore[list-item]
            return "start"
        self._frames.append(frame if frame is not None else np.zeros(160, dtype=np.int16))
        self._quiet = 0 if is_voiced else self._quiet + 1
        too_long = len(self._frames) * FRAME_SECONDS >= MAX_UTTERANCE
        if self._quiet >= self._hangover or too_long:
            self.speaking = False
            return "end"
        return None

    def take(self) -> bytes:
        """The last utterance's audio, first voiced frame to last (trailing quiet cut)."""
        frames = self._frames[: len(self._frames) - self._quiet] or self._frames
        self._frames, self._quiet = [], 0
        return np.concatenate(frames).astype("<i2").tobytes() if frames else b""
