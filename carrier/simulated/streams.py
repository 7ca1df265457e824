"""Media streams and transcription on the simulated carrier.

A stream taps what the call's participants say (the tape's participant tracks: scripted
phrases, the hello on answer, keys) and sends it to the app's WebSocket as it happens
("unmixed": each participant's audio with its rawId; "mixed": one signal, the sum of
everyone's, sent as the clock passes it);
audio the app sends back is played into the call, in order, until the app sends
StopAudio. A transcription hears the participants' phrases, recognizes each off the
clock (carrier.media.speech) and sends the text as TranscriptionData.
"""

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from carrier.interface import CarrierEvent, Stream, StreamOutcome
from carrier.media import speech, streaming
from carrier.media.audio import RATE, Audio
from carrier.simulated.taping import Taping


@dataclass
class _Live:
    command: Stream
    connection: streaming.StreamConnection
    started_at: int  # call sample
    playing_until: int = 0  # where the app's audio queued so far ends
    generation: int = 0  # bumped by StopAudio: queued chunks of older generations are moot
    current: str = ""  # the sound (of the app's audio) playing now
    transcripts: list[tuple[Future, str, float, float]] = field(default_factory=list)
    # A mixed stream: the participants' audio summed from call sample `mix_start` on, sent
    # once no more can be added to it (it is in the past).
    mix: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    mix_start: int = 0


class SimulatedStreams:
    def __init__(
        self,
        taping: Taping,
        now: Callable[[], int],
        schedule: Callable[[int, Callable[[], None]], None],
        is_live: Callable[[str], bool],
        recognizer: Callable[[], speech.Recognizer],
    ) -> None:
        self._taping, self._now, self._schedule = taping, now, schedule
        self._is_live, self._recognizer = is_live, recognizer
        self._live: dict[str, _Live] = {}
        self._inbox: list[tuple[str, str, dict]] = []  # from the connections' threads
        self._lock = threading.Lock()
        self._ops = itertools.count()
        self.played_to: dict[str, int] = {}  # leg -> samples of the app's audio it heard
        taping.taps.append(self._heard)

    def start(self, command: Stream) -> None:
        if command.transcription_locale:
            metadata = streaming.transcription_metadata(
                command.stream_id,
                command.transcription_locale,
                command.call_connection_id,
                command.correlation_id,
            )
        else:
            metadata = streaming.audio_metadata(command.stream_id, command.rate)
        sid = command.stream_id
        connection = streaming.StreamConnection(
            stream_id=sid,
            url=command.url,
            address=command.address,
            metadata=metadata,
            on_event=lambda kind, detail: self._post(sid, kind, detail),
            rate=command.rate,
        )
        self._live[sid] = _Live(command, connection, started_at=self._now())
        connection.start()

    def stop(self, stream_id: str) -> list[CarrierEvent]:
        live = self._live.pop(stream_id, None)
        if live is None:
            return []
        self._flush_mix(live, len(live.mix) + live.mix_start)
        live.connection.close()
        self._stop_audio(live)
        return [CarrierEvent("", StreamOutcome.STOPPED, {"stream": stream_id})]

    def stop_call(self, call: str) -> list[CarrierEvent]:
        """The call is over: its streams stop."""
        ended = [sid for sid, live in self._live.items() if live.command.call == call]
        return [event for sid in ended for event in self.stop(sid)]

    def poll(self) -> list[CarrierEvent]:
        with self._lock:
            inbox, self._inbox = self._inbox, []
        out: list[CarrierEvent] = []
        for sid, kind, detail in inbox:
            live = self._live.get(sid)
            if live is None:
                continue
            if kind == "connected":
                out.append(CarrierEvent("", StreamOutcome.STARTED, {"stream": sid}))
            elif kind == "failed":
                self._live.pop(sid, None)
                out.append(CarrierEvent("", StreamOutcome.FAILED, {"stream": sid, **detail}))
            elif kind == "audio" and live.command.bidirectional:
                self._play(live, Audio(detail["pcm"]))
            elif kind == "stop_audio":
                self._stop_audio(live)
        for sid, live in list(self._live.items()):
            out.extend(self._transcribed(sid, live))
            self._flush_mix(live, self._now())
        return out

    def busy(self) -> bool:
        """Are transcriptions still being recognized (a virtual clock waits for them)?"""
        return any(not f.done() for live in self._live.values() for f, *_ in live.transcripts)

    # --- inside ---
    def _post(self, sid: str, kind: str, detail: dict) -> None:
        with self._lock:
            self._inbox.append((sid, kind, detail))

    def _heard(self, call: str | None, track: str, at: int, audio: Audio, kind: str) -> None:
        for live in self._live.values():
            if live.command.call != call:
                continue
            if live.command.transcription_locale:
                if kind == "speech":
                    self._transcribe(live, track, at, audio)
                continue
            if live.command.channel != "unmixed":
                self._mix(live, at, audio)
                continue
            wall = datetime.now(UTC) + timedelta(seconds=(at - self._now()) / RATE)
            live.connection.send_audio(audio.pcm, wall, participant=track)

    def _mix(self, live: _Live, at: int, audio: Audio) -> None:
        """Add what a participant says from `at` into the stream's one mixed signal."""
        self._flush_mix(live, at)  # what lies before it is final
        if not len(live.mix):
            live.mix_start = at
        pcm = np.frombuffer(audio.pcm, dtype="<i2").astype(np.int32)
        offset = at - live.mix_start
        if offset < 0:  # (never expected: taps come at the clock's now or later)
            pcm, offset = pcm[-offset:], 0
        if offset + len(pcm) > len(live.mix):
            live.mix = np.concatenate([live.mix, np.zeros(offset + len(pcm) - len(live.mix),
                                                          dtype=np.int32)])  # fmt: skip
        live.mix[offset : offset + len(pcm)] += pcm

    def _flush_mix(self, live: _Live, upto: int) -> None:
        """Send the mixed signal up to call sample `upto` (as one signal, no rawId)."""
        count = min(upto - live.mix_start, len(live.mix))
        if count <= 0:
            return
        pcm = np.clip(live.mix[:count], -32768, 32767).astype("<i2").tobytes()
        wall = datetime.now(UTC) + timedelta(seconds=(live.mix_start - self._now()) / RATE)
        live.connection.send_audio(pcm, wall)
        live.mix, live.mix_start = live.mix[count:], live.mix_start + count

    def _transcribe(self, live: _Live, track: str, at: int, audio: Audio) -> None:
        span = speech.voiced_span(audio.pcm)
        if span is None:
            return
        offset = (at + span[0] - live.started_at) / RATE
        duration = (span[1] - span[0]) / RATE
        future = self._recognizer().submit(audio.pcm[span[0] * 2 : span[1] * 2])
        live.transcripts.append((future, track, offset, duration))

    def _transcribed(self, sid: str, live: _Live) -> list[CarrierEvent]:
        out, waiting = [], []
        for item in live.transcripts:
            future, track, offset, duration = item
            if not future.done():
                waiting.append(item)
                continue
            if future.exception() is not None or not future.result().text:
                continue
            result: speech.Result = future.result()
            live.connection.send_message(
                streaming.transcription_data(
                    result.text, result.confidence, offset, duration, track
                )
            )
            detail = {
                "stream": sid,
                "participant": track,
                "text": result.text,
                "confidence": result.confidence,
                "offset": offset,
                "duration": duration,
            }
            out.append(CarrierEvent("", StreamOutcome.TRANSCRIBED, detail))
        live.transcripts = waiting
        return out

    def _play(self, live: _Live, audio: Audio) -> None:
        """Queue the app's audio after what it sent before; legs hear it in order."""
        if not audio.samples:
            return
        start = max(self._now(), live.playing_until)
        live.playing_until = start + audio.samples
        generation, op = live.generation, f"stream-{live.command.stream_id}-{next(self._ops)}"
        legs = tuple(leg for leg, _who in live.command.legs if self._is_live(leg))

        def begin() -> None:
            if live.generation != generation:
                return
            self._taping.sound_started(op, legs, (audio,), False)
            live.current = op
            for leg in legs:
                self.played_to[leg] = self.played_to.get(leg, 0) + audio.samples
            self._schedule(start + audio.samples, lambda: self._taping.sound_ended(op))

        self._schedule(start, begin)

    def _stop_audio(self, live: _Live) -> None:
        live.generation += 1
        live.playing_until = self._now()
        if live.current:
            self._taping.sound_ended(live.current)  # cut short where it is now
            live.current = ""
