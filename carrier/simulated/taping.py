"""What the simulated carrier's recordings hear: a RecordingTape per recording, fed with
the call's real audio on the carrier's clock.

The app's prompts go on the "app" track as they are actually heard (a prompt cut short
by barge-in or a cancel is cut short on tape too); keys a callee presses go on its own
track as real DTMF tones; a callee says a short "hello" when it answers, and in a call no
app is in, the people talk in turns (synthetic voice). Tracks are keyed by rawId, which
is what channelAffinity names.

Times here are whole samples of the carrier's clock (`now()` gives the current sample):
where a prompt is, how much of a loop was heard and where it goes on tape are integer
arithmetic, so a loop stopped at any moment is flushed in a bounded number of steps.
"""

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from carrier.interface import CarrierEvent, Record, RecordingOutcome
from carrier.media import dtmf
from carrier.media.audio import RATE, Audio, concat, samples
from carrier.media.recorder import APP, RecordingState, RecordingTape, render
from carrier.media.voice import synthetic_voice

HELLO_AFTER, HELLO_SECONDS = samples(0.2), 0.8
TURN_SECONDS, TURN_GAP = 1.6, samples(0.4)
KEY_SECONDS = 0.1


@dataclass
class _Sound:
    """A prompt or play in progress, from call sample `start`: put on tape up to
    `flushed` samples after its start so far."""

    start: int
    audio: Audio
    loop: bool
    legs: tuple[str, ...]
    flushed: int = 0


@dataclass
class _Recording:
    tape: RecordingTape
    call: str
    command: Record
    turn: int = 0


@dataclass
class Taping:
    now: Callable[[], int]  # the carrier's clock, in samples
    schedule: Callable[[int, Callable[[], None]], None]  # run at that sample
    emit: Callable[[CarrierEvent], None]
    is_live: Callable[[str], bool]  # is the leg still up?
    is_muted: Callable[[str], bool]
    _call_of: dict[str, str] = field(default_factory=dict)  # leg -> call
    _who: dict[str, str] = field(default_factory=dict)  # leg -> rawId (its track)
    _answered: set[str] = field(default_factory=set)  # connected until they go
    _sounds: dict[str, _Sound] = field(default_factory=dict)  # op -> sound
    _recordings: dict[str, _Recording] = field(default_factory=dict)
    # Listeners to what participants say: (call, track, at sample, audio, kind) with kind
    # "speech" (a scripted phrase), "voice" (synthetic talk) or "tone" (a key).
    taps: list[Callable[[str | None, str, int, Audio, str], None]] = field(default_factory=list)
    call_over: Callable[[str], None] = lambda call: None  # the call's last leg went

    # --- what the carrier tells us ---
    def leg(self, leg: str, *, call: str = "", who: str = "") -> None:
        if call:
            self._call_of[leg] = call
        if who:
            self._who[leg] = who

    def answered(self, leg: str) -> None:
        self._answered.add(leg)
        self.schedule(self.now() + HELLO_AFTER, lambda: self._say(leg, HELLO_SECONDS))

    def sound_started(self, op: str, legs: tuple[str, ...], audios: tuple, loop: bool) -> None:
        # Simulations may play stand-ins that only have a duration: nothing to tape then.
        if audios and all(isinstance(audio, Audio) for audio in audios):
            self._sounds[op] = _Sound(self.now(), concat(*audios), loop, legs)

    def sound_ended(self, op: str) -> None:
        sound = self._sounds.pop(op, None)
        if sound is not None:
            self._flush(sound)

    def key(self, leg: str, key: str) -> None:
        tone = dtmf.tone(key, KEY_SECONDS)
        self._add(self._call_of.get(leg), self._who.get(leg, leg), tone, kind="tone")

    def said(self, leg: str, audio: Audio) -> None:
        """The person on `leg` says something (a scripted phrase) from now."""
        if isinstance(audio, Audio):
            self._add(self._call_of.get(leg), self._who.get(leg, leg), audio, kind="speech")

    def tones_sent(self, leg: str, keys: tuple[str, ...], tone: int, gap: int) -> None:
        """Sent DTMF: each key `tone` samples long, `gap` samples apart, from now."""
        for index, key in enumerate(keys):
            at = self.now() + index * (tone + gap)
            self._add(self._call_of.get(leg), APP, dtmf.tone(key, tone / RATE), at=at)

    def leg_gone(self, leg: str) -> None:
        self._answered.discard(leg)
        call = self._call_of.get(leg)
        if call is None:
            self._who.pop(leg, None)
            return
        legs = [other for other, of in self._call_of.items() if of == call]
        if any(self.is_live(other) for other in legs):
            return
        for recording_id, recording in list(self._recordings.items()):
            if recording.call == call:
                self.stop(recording_id, end_reason="callEnded")
        self.call_over(call)
        # The call is over: a gateway runs for months, so forget it.
        for other in legs:
            self._call_of.pop(other, None)
            self._who.pop(other, None)
            self._answered.discard(other)

    # --- recording commands ---
    def start(self, command: Record) -> None:
        if not any(self.is_live(leg) for leg, _who in command.legs):
            # The call ended before the media server got to it: nothing to record.
            message = "The call has no live legs to record."
            self._emit(RecordingOutcome.FAILED, recording=command.recording_id,
                       message=message, at_start=True)  # fmt: skip
            return
        for leg, who in command.legs:
            self.leg(leg, call=command.call, who=who)
            # Connected legs, including a simulated caller the carrier never dialled.
            self._answered.add(leg)
        recording = _Recording(RecordingTape(), command.call, command)
        recording.tape.start(self.now(), paused=command.paused)
        self._recordings[command.recording_id] = recording
        if command.conversation:
            self.schedule(self.now() + TURN_GAP, lambda: self._turn(command.recording_id))

    def pause(self, recording_id: str) -> None:
        recording = self._recordings.get(recording_id)
        if recording and recording.tape.state is RecordingState.ACTIVE:
            recording.tape.pause(self.now())

    def resume(self, recording_id: str) -> None:
        recording = self._recordings.get(recording_id)
        if recording and recording.tape.state is RecordingState.PAUSED:
            recording.tape.resume(self.now())

    def stop(self, recording_id: str, *, end_reason: str = "stopped") -> None:
        recording = self._recordings.pop(recording_id, None)
        if recording is None:
            return
        # What is still playing was heard up to now.
        for sound in self._sounds.values():
            if any(self._call_of.get(leg) == recording.call for leg in sound.legs):
                self._flush(sound, also=recording)
        recording.tape.stop(self.now())
        command = recording.command
        try:
            rendered = render(
                recording.tape,
                channel_type=command.channel_type,  # type: ignore[arg-type]
                channel_order=list(command.channel_order),
                format=command.format,  # type: ignore[arg-type]
            )
        except ValueError as exc:  # UnsupportedFormat included
            self._emit(RecordingOutcome.FAILED, recording=recording_id, message=str(exc))
            return
        self._emit(
            RecordingOutcome.READY,
            recording=recording_id,
            data=rendered.data,
            content_type=rendered.content_type,
            duration=rendered.duration,
            metadata=rendered.metadata,
            end_reason=end_reason,
        )

    # --- inside ---
    def _emit(self, kind: str, **detail: object) -> None:
        self.emit(CarrierEvent(leg_id="", kind=kind, detail=detail))

    def _live_tapes(self, call: str | None) -> list[RecordingTape]:
        if call is None:
            return []
        return [r.tape for r in self._recordings.values() if r.call == call]

    def _add(
        self, call: str | None, track: str, audio: Audio, at: int | None = None, kind: str = ""
    ) -> None:
        when = self.now() if at is None else at
        for tape in self._live_tapes(call):
            tape.add(track, when, audio)
        if track != APP:
            for tap in self.taps:
                tap(call, track, when, audio, kind or "voice")

    def _flush(self, sound: _Sound, also: _Recording | None = None) -> None:
        """Put what `sound` played since the last flush on its calls' tapes: one piece,
        however many times a loop went round (integer samples: no remainder to stall on)."""
        elapsed = max(self.now() - sound.start, 0)
        if not sound.loop:
            elapsed = min(elapsed, sound.audio.samples)
        calls = {self._call_of.get(leg) for leg in sound.legs} - {None}
        tapes = [tape for call in calls for tape in self._live_tapes(call)]
        if also is not None and also.tape not in tapes:
            tapes.append(also.tape)
        if elapsed > sound.flushed and sound.audio.samples and tapes:
            piece = sound.audio.looped(sound.flushed, elapsed - sound.flushed)
            for tape in tapes:
                tape.add(APP, sound.start + sound.flushed, piece)
        sound.flushed = max(sound.flushed, elapsed)

    def _say(self, leg: str, seconds: float) -> None:
        """The person on `leg` talks for `seconds` from now (a synthetic voice)."""
        if leg not in self._answered or self.is_muted(leg):
            return
        who = self._who.get(leg, leg)
        voice = synthetic_voice(seconds, seed=zlib.crc32(f"{who}{self.now()}".encode()))
        self._add(self._call_of.get(leg), who, voice)

    def _turn(self, recording_id: str) -> None:
        """The next person in the call talks for a while, then the one after."""
        recording = self._recordings.get(recording_id)
        if recording is None:
            return
        speakers = [
            leg
            for leg, call in self._call_of.items()
            if call == recording.call and leg in self._answered
        ]
        if speakers:
            self._say(speakers[recording.turn % len(speakers)], TURN_SECONDS)
            recording.turn += 1
        after = samples(TURN_SECONDS) + TURN_GAP
        self.schedule(self.now() + after, lambda: self._turn(recording_id))
