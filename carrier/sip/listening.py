"""Speech recognize on real legs: the media engine's collections with `Collect.speech`.

Each tick the engine hands over what every leg said (decoded G.711, 20 ms at 8 kHz). A leg
with a speech collection goes through a voice-activity Segmenter: its first voiced frame
barges in on the prompt (when the recognize allows it) and stops the initial-silence
timer; when the utterance is over its voiced audio goes to the recognizer pool
(`speech.shared()`, worker processes: the media clock never waits for a decoding), and
after the end silence the result is taken, exactly as the simulated carrier takes it
(carrier.media.recognition). Speaking again before then starts over with more audio.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from carrier.interface import MediaOutcome
from carrier.media import recognition, speech

if TYPE_CHECKING:
    from carrier.sip.engine import MediaEngine, _Collection

# Longest the recognizer may take after the end silence before the recognize fails.
RECOGNIZE_TIMEOUT = 30.0


@dataclass
class _Heard:
    segmenter: recognition.Segmenter = field(default_factory=recognition.Segmenter)
    unheard: bool = False  # the utterance began over a prompt without barge-in
    audio: bytes = b""  # what was said so far (utterances joined)
    future: Future | None = None
    result_at: float | None = None
    ended_at: float = 0.0  # media clock time the last utterance ended (latency figures)


class SpeechListening:
    def __init__(
        self, engine: MediaEngine, recognizer: Callable[[], speech.Recognizer] = speech.shared
    ) -> None:
        self.engine = engine
        self._recognizer = recognizer
        self._heard: dict[str, _Heard] = {}  # collection op -> what it heard
        # Media clock seconds from the end of speech to the result (bench figures).
        self.latencies: list[float] = []

    def tick(self, now: float, said: dict[str, np.ndarray | None]) -> None:
        engine = self.engine
        for op, collection in list(engine._collections.items()):
            command = collection.command
            if not command.speech or command.leg not in said:
                continue
            heard = self._heard.setdefault(op, _Heard())
            event = heard.segmenter.feed(said[command.leg])
            if event == "start":
                self._started(op, collection, heard)
            elif event == "end":
                self._ended(now, op, collection, heard)
            if heard.result_at is not None and now >= heard.result_at - 1e-9:
                self._result(now, op, collection, heard)
        for op in [op for op in self._heard if op not in engine._collections]:
            del self._heard[op]  # finished, stopped, or its leg went

    def key(self, op: str, collection: _Collection, key: str) -> bool:
        """A key pressed during a speech collection: True when it is dealt with here (or
        ignored), False when it is collected as DTMF (speechOrDtmf, no speech yet)."""
        command, heard = collection.command, self._heard.get(op)
        if command.speech == "speech" or (heard is not None and heard.audio):
            return True  # speech only, or speech came first: keys are not collected
        if heard is not None and heard.segmenter.speaking and not heard.unheard:
            return True
        if command.speech != "choices":
            return False
        if collection.phase == "prompt" and not command.interrupt_prompt:
            return True  # without barge-in, keys pressed over the prompt are not heard
        self._finish(op, collection, *recognition.choice_pressed(command.choices, key))
        return True

    def _started(self, op: str, collection: _Collection, heard: _Heard) -> None:
        if collection.tones:
            heard.unheard = True  # DTMF came first (speechOrDtmf): speech is not collected
            return
        if collection.phase == "prompt":
            if not collection.command.interrupt_prompt:
                heard.unheard = True  # without barge-in, speech over the prompt is not heard
                return
            self.engine._listen(op)  # barge-in: the prompt stops at the first word
        heard.unheard = False
        heard.future = heard.result_at = None  # talking again: an earlier result is moot
        collection.deadline = None  # speaking: no initial-silence timer runs

    def _ended(self, now: float, op: str, collection: _Collection, heard: _Heard) -> None:
        pcm = heard.segmenter.take()
        if heard.unheard:
            heard.unheard = False
            return
        heard.audio += pcm
        command = collection.command
        try:
            heard.future = self._recognizer().submit(heard.audio, recognition.phrases_of(command))
        except speech.UnknownWord as exc:
            self._finish(
                op,
                collection,
                MediaOutcome.RECOGNIZE_FAILED,
                {"reason": "speech_error", "message": str(exc)},
            )
            return
        heard.ended_at = now - recognition.HANGOVER
        # The segmenter waited HANGOVER already; the rest of the end silence runs here.
        heard.result_at = now + max(command.end_silence - recognition.HANGOVER, 0.0)

    def _result(self, now: float, op: str, collection: _Collection, heard: _Heard) -> None:
        future = heard.future
        if future is None:
            return
        if not future.done() and now < heard.result_at + RECOGNIZE_TIMEOUT:  # type: ignore[operator]
            return  # still decoding: looked at again next tick
        self.latencies.append(now - heard.ended_at)
        self._finish(op, collection, *recognition.outcome(collection.command, future))

    def _finish(self, op: str, collection: _Collection, kind: str, detail: dict) -> None:
        engine = self.engine
        engine._collections.pop(op, None)
        engine._collecting.pop(collection.command.leg, None)
        engine._plays.pop(op, None)
        engine._stop_sound(op)
        self._heard.pop(op, None)
        engine._media_event(collection.command.leg, kind, op, **detail)
