"""Recording on the SIP media engine: taps of what each participant said and what the app
played, on the engine's 20 ms clock, into carrier.media.recorder's RecordingTape, so files
render exactly as the simulated carrier's do (WAV or MP3, mixed or unmixed, pauses left
out). Runs on the SIP loop, called by the MediaEngine; rendering runs off it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from carrier.interface import CarrierEvent, Record, RecordingOutcome
from carrier.media.audio import Audio, samples
from carrier.media.recorder import APP, RecordingState, RecordingTape, render
from carrier.sip import mixer
from carrier.sip.clock import TICK

if TYPE_CHECKING:
    from carrier.sip.engine import MediaEngine


class Tap:
    """A recording: a RecordingTape fed frame by frame, contiguous frames coalesced."""

    def __init__(self, command: Record, now: float) -> None:
        self.command = command
        self.tape = RecordingTape()
        self.tape.start(samples(now), paused=command.paused)
        self._runs: dict[str, tuple[float, list[np.ndarray]]] = {}

    def frame(self, track: str, at: float, frame: np.ndarray) -> None:
        run = self._runs.get(track)
        if run is not None and abs(run[0] + len(run[1]) * TICK - at) < TICK / 4:
            run[1].append(frame)
            return
        self.flush(track)
        self._runs[track] = (at, [frame])

    def flush(self, track: str | None = None) -> None:
        for key in [track] if track else list(self._runs):
            run = self._runs.pop(key, None)
            if run:
                pcm = np.concatenate(run[1]).astype("<i2").tobytes()
                self.tape.add(key, samples(run[0]), Audio(pcm))


class Recordings:
    """The engine's live recordings, by recording id."""

    def __init__(self, engine: MediaEngine) -> None:
        self.engine = engine
        self.tapes: dict[str, Tap] = {}
        self._app_pending: dict[str, np.ndarray | None] = {}  # call -> app audio this tick

    def start(self, command: Record) -> None:
        live = [leg for leg, _who in command.legs if leg in self.engine.legs]
        if not live:
            self.engine.emit(
                CarrierEvent(
                    "",
                    RecordingOutcome.FAILED,
                    {
                        "recording": command.recording_id,
                        "at_start": True,
                        "message": "The call has no live legs to record.",
                    },
                )
            )
            return
        for leg, who in command.legs:
            self.engine.join(leg, command.call, who)
        self.tapes[command.recording_id] = Tap(command, self.engine.now)

    def pause(self, recording_id: str) -> None:
        tap = self.tapes.get(recording_id)
        if tap and tap.tape.state is RecordingState.ACTIVE:
            tap.tape.pause(samples(self.engine.now))

    def resume(self, recording_id: str) -> None:
        tap = self.tapes.get(recording_id)
        if tap and tap.tape.state is RecordingState.PAUSED:
            tap.tape.resume(samples(self.engine.now))

    def stop(self, recording_id: str, *, end_reason: str = "stopped") -> None:
        tap = self.tapes.pop(recording_id, None)
        if tap is None:
            return
        tap.flush()
        tap.tape.stop(samples(self.engine.now))
        command = tap.command

        def rendered() -> CarrierEvent:
            try:
                out = render(
                    tap.tape,
                    channel_type=command.channel_type,  # type: ignore[arg-type]
                    channel_order=list(command.channel_order),
                    format=command.format,
                )  # type: ignore[arg-type]
            except ValueError as exc:
                return CarrierEvent(
                    "", RecordingOutcome.FAILED, {"recording": recording_id, "message": str(exc)}
                )
            return CarrierEvent(
                "",
                RecordingOutcome.READY,
                {
                    "recording": recording_id,
                    "data": out.data,
                    "content_type": out.content_type,
                    "duration": out.duration,
                    "metadata": out.metadata,
                    "end_reason": end_reason,
                },
            )

        # Rendering (MP3 above all) takes a while for long calls: off the media loop.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.engine.emit(rendered())
            return
        future = loop.run_in_executor(None, rendered)
        future.add_done_callback(lambda f: self.engine.emit(f.result()))

    def call_ended(self, call: str) -> None:
        """The call's last leg went: its recordings stop (end reason callEnded)."""
        for recording_id, tap in list(self.tapes.items()):
            if tap.command.call == call:
                self.stop(recording_id, end_reason="callEnded")

    def add(self, call: str, track: str, audio: Audio) -> None:
        """Audio put on a track at once (keys sent or pressed), not frame by frame."""
        for tap in self.tapes.values():
            if tap.command.call == call:
                tap.tape.add(track, samples(self.engine.now), audio)

    def app_frame(self, call: str, chunk: np.ndarray) -> None:
        self._app_pending[call] = mixer.add(self._app_pending.get(call), chunk)

    def record(self, now: float, said: dict[str, np.ndarray | None]) -> None:
        pending, self._app_pending = self._app_pending, {}
        if not self.tapes:
            return
        # Group the tick's voices by call once: a tape then looks at its own call's legs
        # only (looking at every leg for every tape grew with calls x recordings).
        voices: dict[str, list[tuple[str, np.ndarray]]] = {}
        for leg_id, frame in said.items():
            leg = self.engine.legs.get(leg_id)
            if frame is not None and leg is not None and not leg.muted:
                voices.setdefault(leg.call, []).append((leg.who, frame))
        for tap in self.tapes.values():
            call = tap.command.call
            for who, frame in voices.get(call, ()):
                tap.frame(who, now, frame)
            if pending.get(call) is not None:
                tap.frame(APP, now, pending[call])
