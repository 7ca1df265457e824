"""The media engine: prompts, DTMF, mixing and recording on the shared 20 ms clock.

It gives real RTP legs the semantics the simulated carrier has (calls/carrier/simulated.py):
a play starts at once (PLAY_STARTED) and finishes when its last frame went out, or loops
until stopped; a collection plays its prompts, then keeps the initial-silence and
inter-tone timers, with barge-in when asked; keys are collected only after the prompt
unless barge-in; continuous DTMF reports every key; stop_media ends an operation without
an event. Legs of one call are conferenced (mix-minus); prompts go only to the legs they
address. Recordings (carrier.sip.recording) tap what each participant said and what the
app played, on the same clock, so files render exactly as the simulated carrier's do.

Everything here runs on the SIP loop; the driver hands commands over thread-safely.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from carrier.interface import (
    CarrierEvent,
    Collect,
    MediaOutcome,
    Play,
    Record,
    SendTones,
)
from carrier.media import dtmf
from carrier.media.audio import Audio, concat, silence
from carrier.media.recorder import APP
from carrier.sip.clock import MediaClock
from carrier.sip.inband import InbandDetector
from carrier.sip.jitter import FRAME
from carrier.sip.listening import SpeechListening
from carrier.sip.mixer import Party, add, mix_minus
from carrier.sip.recording import Recordings
from carrier.sip.stream import encode_all, receive_all

log = logging.getLogger(__name__)

TONE_SECONDS, GAP_SECONDS = 0.1, 0.1  # what a sent key occupies (RFC 4733 or in-band)


def pcm_of(audio: object) -> np.ndarray:
    """int16 samples of an Audio (stand-ins with only a duration play as silence)."""
    if isinstance(audio, Audio):
        return np.frombuffer(audio.pcm, dtype="<i2").astype(np.int16)
    return np.zeros(round(getattr(audio, "duration", 0.0) * 8000), dtype=np.int16)


@dataclass
class _Playing:
    op: str
    pcm: np.ndarray
    loop: bool
    pos: int = 0


@dataclass
class _Leg:
    party: Party
    call: str
    who: str
    muted: bool = False
    playing: list[_Playing] = field(default_factory=list)
    tones: deque[np.ndarray] = field(default_factory=deque)  # in-band keys being sent
    tones_op: str = ""
    listening: bool = False
    detector: InbandDetector = field(default_factory=InbandDetector)


@dataclass
class _Collection:
    command: Collect
    phase: str = "prompt"
    tones: list[str] = field(default_factory=list)
    deadline: float | None = None
    reason: str = "initial_silence"


class MediaEngine:
    def __init__(self, clock: MediaClock, emit: Callable[[CarrierEvent], None]) -> None:
        self.clock = clock
        self.emit = emit
        self.legs: dict[str, _Leg] = {}
        self._plays: dict[str, set[str]] = {}  # play op -> legs still playing it
        self._collections: dict[str, _Collection] = {}  # op -> collection
        self._collecting: dict[str, str] = {}  # leg -> collection op
        self.recordings = Recordings(self)
        self._timers: list[tuple[float, Callable[[], None]]] = []
        self._app_seen: set[str] = set()  # play ops already on the app track this tick
        self.speech = SpeechListening(self)
        # Listeners to each tick's audio: (now, {leg: what it said}); media streams.
        self.taps: list[Callable[[float, dict[str, np.ndarray | None]], None]] = []
        self.call_over: list[Callable[[str], None]] = []  # a call's last leg went
        clock.add(self.tick)

    @property
    def now(self) -> float:
        return self.clock.now

    # --- legs ---
    def add_leg(self, leg_id: str, party: Party, *, call: str = "", who: str = "") -> None:
        self.legs[leg_id] = _Leg(party, call or leg_id, who or leg_id)

    def join(self, leg_id: str, call: str, who: str = "") -> None:
        leg = self.legs.get(leg_id)
        if leg is not None:
            leg.call = call
            leg.who = who or leg.who

    def remove_leg(self, leg_id: str) -> None:
        leg = self.legs.pop(leg_id, None)
        if leg is None:
            return
        op = self._collecting.pop(leg_id, None)
        if op:
            self._collections.pop(op, None)
        for entry in leg.playing:
            self._entry_done(entry.op, leg_id)
        if not any(other.call == leg.call for other in self.legs.values()):
            self.recordings.call_ended(leg.call)
            for over in self.call_over:
                over(leg.call)

    def set_muted(self, leg_id: str, muted: bool) -> None:
        if leg_id in self.legs:
            self.legs[leg_id].muted = muted

    # --- plays and collections ---
    def play(self, command: Play) -> None:
        self.emit(
            CarrierEvent(
                command.legs[0] if command.legs else "",
                MediaOutcome.PLAY_STARTED,
                {"op": command.op_id},
            )
        )
        pcm = np.concatenate([pcm_of(a) for a in command.audios] or [np.zeros(0, np.int16)])
        live = [leg for leg in command.legs if leg in self.legs]
        self._plays[command.op_id] = set(live)
        for leg in live:
            self.legs[leg].playing.append(_Playing(command.op_id, pcm, command.loop))
        if not live and not command.loop:
            # Nobody to hear it: it still lasts as long as its audio, as on the simulator.
            self._at(self.now + len(pcm) / 8000, lambda: self._finish_play(command.op_id))

    def hold_music(self, leg_id: str, audio: Audio | None) -> None:
        leg = self.legs.get(leg_id)
        if leg is None:
            return
        leg.playing = [p for p in leg.playing if p.op != f"hold:{leg_id}"]
        if audio is not None:
            leg.playing.append(_Playing(f"hold:{leg_id}", pcm_of(audio), True))

    def collect(self, command: Collect) -> None:
        op, leg_id = command.op_id, command.leg
        collection = _Collection(command)
        self._collections[op] = collection
        self._collecting[leg_id] = op
        leg = self.legs.get(leg_id)
        pcm = np.concatenate([pcm_of(a) for a in command.prompts] or [np.zeros(0, np.int16)])
        if leg is not None and len(pcm):
            self._plays[op] = {leg_id}
            leg.playing.append(_Playing(op, pcm, False))
        else:
            self._listen(op)

    def _listen(self, op: str) -> None:
        collection = self._collections.get(op)
        if collection is None or collection.phase != "prompt":
            return
        collection.phase = "listening"
        self._stop_sound(op)
        if not collection.tones:
            collection.deadline = self.now + collection.command.initial_silence
            collection.reason = "initial_silence"

    def send_tones(self, command: SendTones) -> None:
        leg = self.legs.get(command.leg)
        finish = lambda: self._media_event(command.leg, MediaOutcome.TONES_SENT, command.op_id)  # noqa: E731
        if leg is None:
            self._at(self.now, finish)
            return
        tones = concat(
            *[concat(dtmf.tone(key, TONE_SECONDS), silence(GAP_SECONDS)) for key in command.keys]
        )
        self.recordings.add(leg.call, APP, tones)
        party = leg.party
        if getattr(party, "can_send_events", False):
            party.on_keys_sent = finish  # type: ignore[attr-defined]
            party.send_keys(command.keys, tone_ms=int(TONE_SECONDS * 1000))  # type: ignore[attr-defined]
            return
        samples = pcm_of(tones)
        for start in range(0, len(samples), FRAME):
            chunk = samples[start : start + FRAME]
            leg.tones.append(np.pad(chunk, (0, FRAME - len(chunk))))
        leg.tones_op = command.op_id

    def stop_media(self, op_id: str) -> None:
        self._plays.pop(op_id, None)
        collection = self._collections.pop(op_id, None)
        if collection is not None:
            self._collecting.pop(collection.command.leg, None)
        self._stop_sound(op_id)

    def listen_dtmf(self, leg_id: str, on: bool) -> None:
        if leg_id in self.legs:
            self.legs[leg_id].listening = on

    def digit(self, leg_id: str, key: str, source: str, duration_ms: int = 100) -> None:
        """A key the party on `leg_id` pressed (RFC 4733, in-band or SIP INFO)."""
        leg = self.legs.get(leg_id)
        if leg is None:
            return
        if source != "inband":  # an in-band key is already in the recorded audio
            self.recordings.add(leg.call, leg.who, dtmf.tone(key, max(duration_ms, 40) / 1000))
        if leg.listening:
            self.emit(CarrierEvent(leg_id, MediaOutcome.TONE, {"key": key, "source": source}))
        op = self._collecting.get(leg_id)
        collection = self._collections.get(op) if op else None
        if collection is None:
            return
        command = collection.command
        if command.speech and self.speech.key(op, collection, key):
            return  # speech only, speech came first, or a choice's tone
        if collection.phase == "prompt":
            if not command.interrupt_prompt:
                return  # without barge-in, keys pressed over the prompt are not collected
            self._listen(op)  # barge-in: the prompt stops here
        if key in command.stop_tones:
            self._recognized(op, "stop_tone")
            return
        collection.tones.append(key)
        if len(collection.tones) >= command.max_tones:
            self._recognized(op, "max_tones")
        else:
            collection.deadline = self.now + command.inter_tone
            collection.reason = "inter_tone_timeout"

    def _recognized(self, op: str, reason: str) -> None:
        collection = self._collections.pop(op)
        self._collecting.pop(collection.command.leg, None)
        self._media_event(
            collection.command.leg,
            MediaOutcome.RECOGNIZED,
            op,
            tones=list(collection.tones),
            reason=reason,
        )

    def _media_event(self, leg: str, kind: str, op: str, **detail: object) -> None:
        self.emit(CarrierEvent(leg, kind, {"op": op, **detail}))

    def _stop_sound(self, op: str) -> None:
        for leg in self.legs.values():
            leg.playing = [p for p in leg.playing if p.op != op]

    def _entry_done(self, op: str, leg_id: str) -> None:
        if op in self._collections:
            self._plays.pop(op, None)
            self._listen(op)
            return
        remaining = self._plays.get(op)
        if remaining is None:
            return
        remaining.discard(leg_id)
        if not remaining:
            self._finish_play(op)

    def _finish_play(self, op: str) -> None:
        legs = self._plays.pop(op, None)
        if legs is not None:
            self._media_event(next(iter(legs), ""), MediaOutcome.PLAY_FINISHED, op)

    def _at(self, when: float, action: Callable[[], None]) -> None:
        self._timers.append((when, action))

    # --- recording (carrier.sip.recording) ---
    def start_recording(self, command: Record) -> None:
        self.recordings.start(command)

    def pause_recording(self, recording_id: str) -> None:
        self.recordings.pause(recording_id)

    def resume_recording(self, recording_id: str) -> None:
        self.recordings.resume(recording_id)

    def stop_recording(self, recording_id: str, *, end_reason: str = "stopped") -> None:
        self.recordings.stop(recording_id, end_reason=end_reason)

    # --- the tick ---
    def tick(self, _n: int) -> None:
        now = self.now
        said: dict[str, np.ndarray | None] = {}
        try:  # every leg's RTP read and decoded in one step; then each pull only pops
            receive_all([leg.party for leg in self.legs.values()])
        except Exception:
            log.exception("reading the legs' RTP failed; each leg reads its own this tick")
        for leg_id, leg in list(self.legs.items()):
            try:
                frame = leg.party.pull()
                said[leg_id] = frame
                if frame is not None and self._wants_inband(leg_id, leg):
                    key = leg.detector.feed(frame)
                    if key:
                        self.digit(leg_id, key, "inband")
            except Exception:
                log.exception("media leg %s failed to receive; dropped", leg_id)
                self.legs.pop(leg_id, None)
        calls: dict[str, list[str]] = {}
        for leg_id in said:
            if leg_id in self.legs:
                calls.setdefault(self.legs[leg_id].call, []).append(leg_id)
        self._app_seen.clear()
        pushes: list[tuple[str, Party, np.ndarray | None]] = []
        for members in calls.values():
            muted = {m for m in members if self.legs[m].muted}
            heard = mix_minus({m: said[m] for m in members}, muted)
            for leg_id in members:
                leg = self.legs[leg_id]
                try:
                    pushes.append((leg_id, leg.party, self._outgoing(leg_id, leg, heard[leg_id])))
                except Exception:
                    log.exception("media leg %s failed to send; dropped", leg_id)
                    self.legs.pop(leg_id, None)
        # Every leg's frame encoded in one step, then one send per leg.
        payloads = encode_all([(party, frame) for _leg_id, party, frame in pushes])
        for (leg_id, party, frame), payload in zip(pushes, payloads, strict=True):
            try:
                if payload is None:
                    party.push(frame)
                else:
                    party.push(frame, payload)  # type: ignore[call-arg]
            except Exception:
                log.exception("media leg %s failed to send; dropped", leg_id)
                self.legs.pop(leg_id, None)
        self.recordings.record(now, said)
        self.speech.tick(now, said)
        for tap in self.taps:
            tap(now, said)
        self._run_timers(now)

    def _wants_inband(self, leg_id: str, leg: _Leg) -> bool:
        if getattr(leg.party, "te_pt", 0) is not None:
            return False  # the trunk sends RFC 4733 (or the party is not RTP)
        return leg.listening or leg_id in self._collecting

    def _outgoing(self, leg_id: str, leg: _Leg, heard: np.ndarray | None) -> np.ndarray | None:
        """What `leg` hears this tick: the mix, plus a key being sent or its prompts."""
        out = heard
        if leg.tones:
            tone = leg.tones.popleft()
            out = add(out, tone)  # already on the app track (send_tones)
            if not leg.tones:
                op, leg.tones_op = leg.tones_op, ""
                self._at(self.now, lambda: self._media_event(leg_id, MediaOutcome.TONES_SENT, op))
        elif leg.playing and not getattr(leg.party, "busy", False):
            prompt = self._advance(leg_id, leg)
            out = add(out, prompt)
        return out

    def _advance(self, leg_id: str, leg: _Leg) -> np.ndarray | None:
        total: np.ndarray | None = None
        finished = []
        for entry in leg.playing:
            length = len(entry.pcm)
            if not length:
                finished.append(entry)
                continue
            if entry.loop:
                entry.pos %= length
                chunk = entry.pcm[entry.pos : entry.pos + FRAME]
                while len(chunk) < FRAME:  # wrap around (several times for tiny loops)
                    chunk = np.concatenate([chunk, entry.pcm[: FRAME - len(chunk)]])
            else:
                chunk = entry.pcm[entry.pos : entry.pos + FRAME]
                if len(chunk) < FRAME:
                    chunk = np.pad(chunk, (0, FRAME - len(chunk)))
            entry.pos += FRAME
            if not entry.loop and entry.pos >= length:
                finished.append(entry)
            total = add(total, chunk)
            if entry.op not in self._app_seen and not entry.op.startswith("hold:"):
                self._app_seen.add(entry.op)
                self.recordings.app_frame(leg.call, chunk)
        for entry in finished:
            leg.playing.remove(entry)
            self._at(self.now, lambda op=entry.op: self._entry_done(op, leg_id))
        return total

    def _run_timers(self, now: float) -> None:
        due = [item for item in self._timers if item[0] <= now + 1e-9]
        if due:
            self._timers = [item for item in self._timers if item[0] > now + 1e-9]
            for _when, action in due:
                action()
        for op, collection in list(self._collections.items()):
            if collection.deadline is not None and now >= collection.deadline - 1e-9:
                if collection.tones:
                    self._recognized(op, "inter_tone_timeout")
                else:
                    self._collections.pop(op)
                    self._collecting.pop(collection.command.leg, None)
                    self._media_event(
                        collection.command.leg,
                        MediaOutcome.RECOGNIZE_FAILED,
                        op,
                        reason="initial_silence",
                    )
