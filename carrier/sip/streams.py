"""Media streams and transcription on real legs: the media engine's taps.

Every tick the engine hands over what each leg said (decoded G.711, 20 ms at 8 kHz). An
audio stream sends it to the app's WebSocket (carrier.media.streaming) continuously, as
ACS does (silent frames flagged): "mixed" as one signal, the sum of the call's unmuted
legs; "unmixed" one frame per participant, with its rawId. Audio the app sends back plays
into the call's legs in order until StopAudio (and is on the recording's app track, as
any prompt). A transcription cuts each leg's audio into utterances (the recognize's
Segmenter) and sends what the recognizer pool makes of each as TranscriptionData: every
second of a phrase still being said an Intermediate result, then the Final one.

Runs on the SIP loop; the connections' threads hand their news over with `post`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from carrier.interface import CarrierEvent, Stream, StreamOutcome
from carrier.media import recognition, speech, streaming
from carrier.sip.engine import MediaEngine, _Playing
from carrier.sip.jitter import FRAME
from carrier.sip.mixer import _clip

_SILENCE = np.zeros(FRAME, dtype=np.int16)


@dataclass
class _Live:
    command: Stream
    connection: streaming.StreamConnection
    started_at: float  # media clock seconds
    segmenters: dict[str, recognition.Segmenter] = field(default_factory=dict)
    starts: dict[str, float] = field(default_factory=dict)  # leg -> its utterance's start
    partials: dict[str, int] = field(default_factory=dict)  # leg -> intermediates sent
    # (decoding, rawId, offset, duration, final) in the order the audio was heard
    transcripts: list[tuple[Future, str, float, float, bool]] = field(default_factory=list)


class SipStreams:
    def __init__(
        self,
        engine: MediaEngine,
        emit: Callable[[CarrierEvent], None],
        post: Callable[[Callable[[], None]], None],
        recognizer: Callable[[], speech.Recognizer] = speech.shared,
    ) -> None:
        self.engine, self._emit, self._post, self._recognizer = engine, emit, post, recognizer
        self._live: dict[str, _Live] = {}
        self._ops = itertools.count()
        engine.taps.append(self.tick)
        engine.call_over.append(self.stop_call)

    def unhook(self) -> None:
        """Off the engine (shared by the process's trunks: it outlives this carrier)."""
        for sid in list(self._live):
            self.stop(sid)
        if self.tick in self.engine.taps:
            self.engine.taps.remove(self.tick)
        if self.stop_call in self.engine.call_over:
            self.engine.call_over.remove(self.stop_call)

    # --- commands (on the SIP loop) ---
    def start(self, command: Stream) -> None:
        sid = command.stream_id
        if command.transcription_locale:
            metadata = streaming.transcription_metadata(
                sid, command.transcription_locale, command.call_connection_id,
                command.correlation_id,
            )  # fmt: skip
        else:
            metadata = streaming.audio_metadata(sid, command.rate)
        for leg, who in command.legs:
            self.engine.join(leg, command.call, who)
        connection = streaming.StreamConnection(
            stream_id=sid,
            url=command.url,
            address=command.address,
            metadata=metadata,
            on_event=lambda kind, detail: self._post(lambda: self._news(sid, kind, detail)),
            rate=command.rate,
        )
        self._live[sid] = _Live(command, connection, started_at=self.engine.now)
        connection.start()

    def stop(self, stream_id: str) -> None:
        live = self._live.pop(stream_id, None)
        if live is None:
            return
        live.connection.close()
        self.engine._stop_sound(self._op(stream_id))
        self._emit(CarrierEvent("", StreamOutcome.STOPPED, {"stream": stream_id}))

    def stop_call(self, call: str) -> None:
        for sid in [sid for sid, live in self._live.items() if live.command.call == call]:
            self.stop(sid)

    # --- the tick ---
    def tick(self, now: float, said: dict[str, np.ndarray | None]) -> None:
        if not self._live:
            return
        frames: list[tuple[streaming.StreamConnection, str, np.ndarray]] = []
        for sid, live in list(self._live.items()):
            legs = [
                (leg_id, leg)
                for leg_id, leg in self.engine.legs.items()
                if leg.call == live.command.call and leg_id in said
            ]
            if live.command.transcription_locale:
                self._transcribe(now, sid, live, [(i, leg.who) for i, leg in legs], said)
                continue
            heard = {leg.who: (None if leg.muted else said[leg_id]) for leg_id, leg in legs}
            if live.command.channel == "unmixed":
                for who, frame in heard.items():
                    frames.append((live.connection, who, _SILENCE if frame is None else frame))
            else:
                frames.append((live.connection, "", mixed(list(heard.values()))))
        if frames:
            # All streams' frames of this tick resampled and encoded together (numpy).
            streaming.send_tick(frames, datetime.now(UTC))

    def _transcribe(
        self,
        now: float,
        sid: str,
        live: _Live,
        legs: list[tuple[str, str]],
        said: dict[str, np.ndarray | None],
    ) -> None:
        for leg_id, who in legs:
            segmenter = live.segmenters.setdefault(leg_id, recognition.Segmenter())
            event = segmenter.feed(said[leg_id])
            if event == "start":
                live.starts[leg_id], live.partials[leg_id] = now, 0
            elif event == "end":
                pcm = segmenter.take()
                self._submit(live, who, pcm, live.starts.pop(leg_id, now), final=True)
            elif segmenter.speaking and segmenter.length >= recognition.INTERMEDIATE_EVERY * (
                live.partials.get(leg_id, 0) + 1
            ):
                live.partials[leg_id] = live.partials.get(leg_id, 0) + 1
                self._submit(live, who, segmenter.peek(), live.starts.get(leg_id, now), final=False)
        # Results go out in the order their audio was heard (intermediate before final).
        while live.transcripts and live.transcripts[0][0].done():
            future, who, offset, duration, final = live.transcripts.pop(0)
            if future.exception() is not None or not future.result().text:
                continue
            result: speech.Result = future.result()
            status = "Final" if final else "Intermediate"
            message = streaming.transcription_data(
                result.text, result.confidence, offset, duration, who, status
            )
            live.connection.send_message(message)
            if final:  # only final phrases are kept with the call
                detail = {"stream": sid, "participant": who, "text": result.text,
                          "confidence": result.confidence, "offset": offset,
                          "duration": duration}  # fmt: skip
                self._emit(CarrierEvent("", StreamOutcome.TRANSCRIBED, detail))

    def _submit(self, live: _Live, who: str, pcm: bytes, start: float, *, final: bool) -> None:
        duration = len(pcm) / 2 / streaming.RATE
        future = self._recognizer().submit(pcm)
        live.transcripts.append((future, who, start - live.started_at, duration, final))

    # --- what the app's socket says (on the SIP loop, via post) ---
    def _news(self, sid: str, kind: str, detail: dict) -> None:
        live = self._live.get(sid)
        if live is None:
            return
        if kind == "connected":
            self._emit(CarrierEvent("", StreamOutcome.STARTED, {"stream": sid}))
        elif kind == "failed":
            self._live.pop(sid, None)
            self._emit(CarrierEvent("", StreamOutcome.FAILED, {"stream": sid, **detail}))
        elif kind == "audio" and live.command.bidirectional:
            self._play(sid, live, np.frombuffer(detail["pcm"], dtype="<i2").astype(np.int16))
        elif kind == "stop_audio":
            self.engine._stop_sound(self._op(sid))

    def _play(self, sid: str, live: _Live, pcm: np.ndarray) -> None:
        """The app's audio plays after what it sent before (one growing entry a leg)."""
        op = self._op(sid)
        for leg_id, _who in live.command.legs:
            leg = self.engine.legs.get(leg_id)
            if leg is None:
                continue
            entry = next((p for p in leg.playing if p.op == op), None)
            if entry is None:
                leg.playing.append(_Playing(op, pcm, False))
            else:
                entry.pcm, entry.pos = np.concatenate([entry.pcm[entry.pos :], pcm]), 0

    @staticmethod
    def _op(sid: str) -> str:
        return f"stream:{sid}"


def mixed(frames: list[np.ndarray | None]) -> np.ndarray:
    """One signal of the participants' frames: their clipped sum (silence for none)."""
    present = [frame for frame in frames if frame is not None]
    if not present:
        return _SILENCE
    if len(present) == 1:
        return present[0]
    return _clip(np.sum(np.stack(present).astype(np.int32), axis=0))
