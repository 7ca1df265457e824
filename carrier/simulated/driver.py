"""The simulated carrier: scripted callees on a clock (virtual in tests, real under make run).

Each dialled leg gets a timeline from its callee's script (answer after N s, busy, no
answer until the invitation times out, reject, hang up after N s, press keys). Media
runs on the same clock: a play lasts as long as its audio, a DTMF collection keeps the
initial-silence and inter-tone timers a real media server would. `poll()` runs what is
due and returns the events that happened, oldest first.

The clock is in seconds, but where media is (a prompt's start, its end, a sent tone) is
counted in whole samples: a play that starts at sample s of n samples ends at s + n, and
the tape hears exactly n samples of it.
"""

import contextlib
import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future

from carrier.interface import (
    CalleeScript,
    CarrierEvent,
    Clock,
    Collect,
    Dial,
    LegOutcome,
    MediaOutcome,
    Originate,
    Play,
    Record,
    Saying,
    SendTones,
    Stream,
    VirtualClock,
)
from carrier.media import recognition, speech
from carrier.media.audio import RATE, samples
from carrier.simulated.streams import SimulatedStreams
from carrier.simulated.taping import Taping

DEFAULT_SCRIPT = CalleeScript()
# How long failure signalling takes on the simulated network.
QUICK = 0.2
# Sent DTMF: each tone lasts 100 ms with 50 ms between tones (common carrier timing).
TONE_SECONDS, GAP_SECONDS = 0.1, 0.05
TONE_SAMPLES, GAP_SAMPLES = samples(TONE_SECONDS), samples(GAP_SECONDS)
# A callee outcome for fault-isolation tests (not offered on the portal): dialling such a
# callee makes the driver raise, as a bug in a driver or its network library would.
FAULT = "fault"


# Longest a recognition may take on a virtual clock before it counts as failed (seconds).
RECOGNIZE_TIMEOUT = 60.0


class ScriptedFault(RuntimeError):
    """The simulated driver failing on purpose, for a callee scripted to do so."""


Action = CarrierEvent | Callable[[], None]


class SimulatedCarrier:
    recognizes_speech = True  # Collect.speech is heard

    def __init__(self, clock: Clock, recognizer: speech.Recognizer | None = None) -> None:
        self.clock = clock
        self._recognizer = recognizer
        # On a virtual clock time stands still while the recognizer works (tests are
        # repeatable); on a real one a result is picked up by the poll after it is ready.
        self._wait_for_recognizer = isinstance(clock, VirtualClock)
        self._decoded: list[tuple[str, Future]] = []  # finished off the clock
        self._decoded_lock = threading.Lock()
        # What each dialled callee was sent (customCallingContext), as a phone would show it.
        self.headers: dict[str, dict] = {}
        self._timeline: list[tuple[float, int, Action]] = []
        self._order = itertools.count()  # ties keep scheduling order
        self._legs: dict[str, dict] = {}
        self._ops: dict[str, dict] = {}  # media operations in progress
        self._collecting: dict[str, str] = {}  # leg -> op of the collection listening on it
        self._listening: set[str] = set()  # legs with continuous DTMF recognition
        self._out: list[CarrierEvent] = []
        self.taping = Taping(
            now=self._sample,
            schedule=lambda at, action: self._call(at / RATE, action),
            emit=lambda event: self._out.append(event),
            is_live=lambda leg: leg in self._legs,
            is_muted=lambda leg: self._legs.get(leg, {}).get("muted", False),
        )
        self.streams = SimulatedStreams(
            self.taping,
            now=self._sample,
            schedule=lambda at, action: self._call(at / RATE, action),
            is_live=lambda leg: leg in self._legs,
            recognizer=self._speech,
        )
        self.taping.call_over = lambda call: self._out.extend(self.streams.stop_call(call))

    # --- call legs ---
    def dial(self, command: Dial) -> None:
        script = command.script or DEFAULT_SCRIPT
        now = self.clock.now()
        self._legs[command.leg_id] = {"to": command.to, "muted": False, "script": script}
        self.headers[command.leg_id] = command.custom_context
        self.taping.leg(command.leg_id, call=command.call, who=command.to)
        outcome, leg = script.outcome, command.leg_id
        if outcome == FAULT:
            # Half-way through, like a real failure: the gateway must clean up after it.
            raise ScriptedFault(f"scripted driver fault dialling {command.to}")
        if outcome in ("answer", "voicemail") and script.answer_after < command.timeout:
            self._answer_at(now + script.answer_after, leg, voicemail=outcome == "voicemail")
        elif outcome in ("answer", "voicemail", "no_answer"):
            self._at(now + command.timeout, leg, LegOutcome.NO_ANSWER)
        elif outcome == "busy":
            self._at(now + min(QUICK, command.timeout), leg, LegOutcome.BUSY)
        elif outcome == "reject":
            self._at(now + min(script.answer_after, command.timeout), leg, LegOutcome.REJECTED)
        elif outcome == "softphone":
            # A person answers or declines from the portal (callee_answer/callee_hang_up).
            self._legs[leg]["ringing"] = True
            self._at(now + command.timeout, leg, LegOutcome.NO_ANSWER)
        else:
            self._at(now + QUICK, leg, LegOutcome.FAILED)

    def originate(self, command: Originate) -> None:
        """A scripted caller rings our number now and gives up after `ring_timeout`."""
        now = self.clock.now()
        self._legs[command.leg_id] = {
            "to": command.to,
            "muted": False,
            "script": command.script or DEFAULT_SCRIPT,
        }
        self.taping.leg(command.leg_id, who=command.caller)
        detail = {"from": command.caller, "to": command.to, "display_name": command.display_name,
                  "custom_context": command.custom_context}  # fmt: skip
        self._at(now, command.leg_id, LegOutcome.INCOMING, **detail)
        self._at(now + command.ring_timeout, command.leg_id, LegOutcome.NO_ANSWER)

    def answer(self, leg_id: str) -> None:
        if leg_id not in self._legs:
            return  # the caller already gave up; its NO_ANSWER event tells the engine
        self._forget(leg_id)
        self._answer_at(self.clock.now(), leg_id)

    def reject(self, leg_id: str, sip_code: int) -> None:
        self.hang_up(leg_id)

    def hang_up(self, leg_id: str) -> None:
        # Our side ended the leg: whatever the callee would still have done is moot.
        self._legs.pop(leg_id, None)
        self.headers.pop(leg_id, None)
        self._forget(leg_id)
        self._listening.discard(leg_id)
        op = self._collecting.pop(leg_id, None)
        if op:
            self._ops.pop(op, None)
            self.taping.sound_ended(op)
        self.taping.leg_gone(leg_id)

    def set_muted(self, leg_id: str, muted: bool) -> None:
        if leg_id in self._legs:
            self._legs[leg_id]["muted"] = muted

    def _answer_at(self, when: float, leg: str, voicemail: bool = False) -> None:
        self._at(when, leg, LegOutcome.ANSWERED, voicemail=voicemail)
        script = self._legs[leg]["script"]
        if script.hang_up_after is not None:
            self._at(when + script.hang_up_after, leg, LegOutcome.HUNG_UP)
        for press in script.keys:
            if press.anchor == "answer":
                self._call(when + press.at, lambda p=press: self.press(leg, p.key))
        for saying in script.says:
            if saying.anchor == "answer":
                self._call(when + saying.at, lambda s=saying: self.say(leg, s))
        self._legs[leg]["prompt_keys"] = [p for p in script.keys if p.anchor == "prompt"]
        self._legs[leg]["prompt_says"] = [s for s in script.says if s.anchor == "prompt"]

    # --- media ---
    def play(self, command: Play) -> None:
        now, start = self.clock.now(), self._sample()
        op = command.op_id
        self._ops[op] = {"legs": command.legs}
        self.taping.sound_started(op, command.legs, command.audios, command.loop)
        self._at(now, _first(command.legs), MediaOutcome.PLAY_STARTED, op=op)
        if not command.loop:  # a looping play lasts until it is stopped
            total = sum(audio.samples for audio in command.audios)
            finish = lambda: self._finish(op, MediaOutcome.PLAY_FINISHED)  # noqa: E731
            self._call((start + total) / RATE, finish)

    def collect(self, command: Collect) -> None:
        now, start = self.clock.now(), self._sample()
        op, leg = command.op_id, command.leg
        self._ops[op] = {"legs": (leg,), "command": command, "tones": [], "phase": "prompt"}
        self._collecting[leg] = op
        self.taping.sound_started(op, (leg,), command.prompts, False)
        if leg in self._legs:  # keys the callee presses "n seconds into the prompt"
            for press in self._legs[leg].pop("prompt_keys", []):
                self._call(now + press.at, lambda p=press: self.press(leg, p.key))
            for saying in self._legs[leg].pop("prompt_says", []):
                self._call(now + saying.at, lambda s=saying: self.say(leg, s))
        prompt = sum(audio.samples for audio in command.prompts)
        self._call((start + prompt) / RATE, lambda: self._prompt_done(op))

    def send_tones(self, command: SendTones) -> None:
        count = len(command.keys)
        length = count * TONE_SAMPLES + max(count - 1, 0) * GAP_SAMPLES
        self._ops[command.op_id] = {"legs": (command.leg,)}
        self.taping.tones_sent(command.leg, command.keys, TONE_SAMPLES, GAP_SAMPLES)
        finish = lambda: self._finish(command.op_id, MediaOutcome.TONES_SENT)  # noqa: E731
        self._call((self._sample() + length) / RATE, finish)

    def stop_media(self, op_id: str) -> None:
        state = self._ops.pop(op_id, None)
        self.taping.sound_ended(op_id)
        if state and "command" in state:
            self._collecting.pop(state["command"].leg, None)

    def listen_dtmf(self, leg_id: str, on: bool) -> None:
        if on:
            self._listening.add(leg_id)
        else:
            self._listening.discard(leg_id)

    def press(self, leg: str, key: str) -> None:
        """The callee on `leg` presses `key` now (scripts, or a softphone)."""
        if leg not in self._legs:
            return
        self.taping.key(leg, key)
        if leg in self._listening:
            self._at(self.clock.now(), leg, MediaOutcome.TONE, key=key)
        op = self._collecting.get(leg)
        state = self._ops.get(op) if op else None
        if state is None:
            return
        command: Collect = state["command"]
        if command.speech == "speech" or state.get("speech"):
            return  # speech only, or speech came first: keys are not collected
        if state["phase"] == "prompt":
            if not command.interrupt_prompt:
                return  # without barge-in, keys pressed over the prompt are not collected
            state["phase"] = "listening"  # barge-in: the prompt stops here
            self.taping.sound_ended(op)
        if command.speech == "choices":
            self._choice_pressed(op, key)
            return
        if key in command.stop_tones:
            self._recognized(op, "stop_tone")
            return
        state["tones"].append(key)
        if len(state["tones"]) >= command.max_tones:
            self._recognized(op, "max_tones")
        else:
            self._arm(op, command.inter_tone, lambda: self._recognized(op, "inter_tone_timeout"))

    def _prompt_done(self, op: str) -> None:
        state = self._ops.get(op)
        if state is None or state["phase"] != "prompt":
            return
        state["phase"] = "listening"
        self.taping.sound_ended(op)
        command: Collect = state["command"]
        self._arm(op, command.initial_silence, lambda: self._silence(op))

    def _silence(self, op: str) -> None:
        if op in self._ops and not self._ops[op]["tones"] and not self._ops[op].get("speech"):
            self._finish(op, MediaOutcome.RECOGNIZE_FAILED, reason="initial_silence")

    # --- speech ---
    def say(self, leg: str, saying: Saying) -> None:
        """The callee on `leg` starts saying `saying` now: it is heard (taped), and a
        speech collection listening on the leg hears it from its first voiced sample."""
        if leg not in self._legs or self._legs[leg].get("muted"):
            return
        self.taping.said(leg, saying.audio)
        op = self._collecting.get(leg)
        state = self._ops.get(op) if op else None
        pcm = getattr(saying.audio, "pcm", b"")
        span = speech.voiced_span(pcm)
        if state is None or not state["command"].speech or span is None:
            return
        now = self.clock.now()
        voiced = pcm[span[0] * 2 : span[1] * 2]
        self._call(now + span[0] / RATE, lambda: self._speech_started(op, voiced))
        self._call(now + span[1] / RATE, lambda: self._speech_ended(op, voiced))

    def _speech_started(self, op: str, voiced: bytes) -> None:
        state = self._ops.get(op)
        if state is None or state["tones"]:
            return  # gone, or DTMF came first (speechOrDtmf)
        if state["phase"] == "prompt":
            if not state["command"].interrupt_prompt:
                state.setdefault("unheard", set()).add(voiced)
                return  # without barge-in, speech over the prompt is not collected
            state["phase"] = "listening"  # barge-in: the prompt stops at the first word
            self.taping.sound_ended(op)
        state.setdefault("speech", [])
        state["timer"] = object()  # speaking: no initial-silence or end timer runs

    def _speech_ended(self, op: str, voiced: bytes) -> None:
        state = self._ops.get(op)
        if state is None or "speech" not in state or voiced in state.get("unheard", ()):
            return
        state["speech"].append(voiced)
        command: Collect = state["command"]
        recognizer = self._speech()
        # Handed over now, decoded off the clock while the end silence runs.
        state["future"] = recognizer.submit(
            b"".join(state["speech"]), recognition.phrases_of(command)
        )
        self._arm(op, command.end_silence, lambda: self._speech_done(op))

    def _speech_done(self, op: str) -> None:
        future: Future = self._ops[op]["future"]
        if self._wait_for_recognizer:
            with contextlib.suppress(TimeoutError):
                future.exception(timeout=RECOGNIZE_TIMEOUT)  # waits for the outcome
            self._speech_result(op, future)  # not done by then: a speech_error
            return
        if future.done():
            self._speech_result(op, future)
            return

        def ready(done: Future) -> None:
            with self._decoded_lock:
                self._decoded.append((op, done))

        future.add_done_callback(ready)

    def _speech_result(self, op: str, future: Future) -> None:
        state = self._ops.get(op)
        if state is None or state.get("future") is not future:
            return  # stopped meanwhile, or the callee spoke again
        kind, detail = recognition.outcome(state["command"], future)
        self._finish(op, kind, **detail)

    def _choice_pressed(self, op: str, key: str) -> None:
        kind, detail = recognition.choice_pressed(self._ops[op]["command"].choices, key)
        self._finish(op, kind, **detail)

    def _recognized(self, op: str, reason: str) -> None:
        tones = list(self._ops[op]["tones"])
        self._finish(op, MediaOutcome.RECOGNIZED, tones=tones, reason=reason)

    def _arm(self, op: str, delay: float, fire: Callable[[], None]) -> None:
        """(Re)start the operation's one timer; an older timer becomes a no-op."""
        token = object()
        self._ops[op]["timer"] = token

        def check() -> None:
            if op in self._ops and self._ops[op].get("timer") is token:
                fire()

        self._call(self.clock.now() + delay, check)

    def _finish(self, op: str, kind: str, **detail: object) -> None:
        state = self._ops.pop(op, None)
        self.taping.sound_ended(op)
        if state is None:
            return  # stopped meanwhile
        if "command" in state:
            self._collecting.pop(state["command"].leg, None)
        self._at(self.clock.now(), _first(state["legs"]), kind, op=op, **detail)

    # --- recording ---
    def start_recording(self, command: Record) -> None:
        self.taping.start(command)

    def pause_recording(self, recording_id: str) -> None:
        self.taping.pause(recording_id)

    def resume_recording(self, recording_id: str) -> None:
        self.taping.resume(recording_id)

    def stop_recording(self, recording_id: str) -> None:
        self.taping.stop(recording_id)

    # --- media streaming and transcription ---
    def start_stream(self, command: Stream) -> None:
        self.streams.start(command)

    def stop_stream(self, stream_id: str) -> None:
        self._out.extend(self.streams.stop(stream_id))

    def _speech(self) -> speech.Recognizer:
        return self._recognizer or speech.shared()

    # --- the softphone: a person in the browser acts for a leg ---
    def callee_answer(self, leg_id: str) -> None:
        """The person picks up a softphone leg that is ringing them (ignored otherwise)."""
        state = self._legs.get(leg_id)
        if state is None or not state.pop("ringing", False):
            return
        self._forget(leg_id)
        self._answer_at(self.clock.now(), leg_id)

    def callee_hang_up(self, leg_id: str) -> None:
        """The person hangs up: declines a leg still ringing, else leaves the call."""
        state = self._legs.get(leg_id)
        if state is None or state.get("hanging_up"):
            return
        state["hanging_up"] = True
        # A caller still ringing our number has a pending give-up (NO_ANSWER) too.
        if state.pop("ringing", False) or self._pending(leg_id, LegOutcome.NO_ANSWER):
            self._forget(leg_id)
            self._at(self.clock.now(), leg_id, LegOutcome.REJECTED)
        else:
            self._at(self.clock.now(), leg_id, LegOutcome.HUNG_UP)

    def _pending(self, leg_id: str, kind: str) -> bool:
        return any(
            not callable(item[2]) and item[2].leg_id == leg_id and item[2].kind == kind
            for item in self._timeline
        )

    # --- the timeline ---
    def poll(self) -> list[CarrierEvent]:
        with self._decoded_lock:
            decoded, self._decoded = self._decoded, []
        for op, future in decoded:
            self._speech_result(op, future)
        self._out.extend(self.streams.poll())
        now = self.clock.now()
        while self._timeline and self._timeline[0][0] <= now:
            _, _, action = heapq.heappop(self._timeline)
            if callable(action):
                action()
                continue
            self._out.append(action)
            if action.kind in LegOutcome.ENDS:
                self._legs.pop(action.leg_id, None)
                self.headers.pop(action.leg_id, None)
                self.taping.leg_gone(action.leg_id)  # may stop recordings: after the event
            elif action.kind == LegOutcome.ANSWERED and action.leg_id in self._legs:
                self.taping.answered(action.leg_id)
        due, self._out = self._out, []
        return due

    def next_event_at(self) -> float | None:
        return self._timeline[0][0] if self._timeline else None

    def live_legs(self) -> set[str]:
        return set(self._legs)

    def _sample(self) -> int:
        """The clock as a whole sample: where media starting now begins."""
        return samples(self.clock.now())

    def _at(self, when: float, leg_id: str, kind: str, **detail: object) -> None:
        event = CarrierEvent(leg_id=leg_id, kind=kind, detail=detail)
        heapq.heappush(self._timeline, (when, next(self._order), event))

    def _call(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._timeline, (when, next(self._order), action))

    def _forget(self, leg_id: str) -> None:
        """Drop the leg's pending signalling (not its media timers: those check state)."""
        self._timeline = [
            item
            for item in self._timeline
            if callable(item[2]) or item[2].leg_id != leg_id or item[2].kind in MEDIA_KINDS
        ]
        heapq.heapify(self._timeline)


def _first(legs: tuple[str, ...]) -> str:
    # A media event names a leg only for the record (ingestion goes by the operation),
    # and the legs a play was for may all have left before it started.
    return legs[0] if legs else ""


MEDIA_KINDS = frozenset(
    value for name, value in vars(MediaOutcome).items() if not name.startswith("_")
)
