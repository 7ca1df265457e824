"""The simulated carrier: scripted callees on a clock (virtual in tests, real under make run).

Each dialled leg gets a timeline from its callee's script (answer after N s, busy, no
answer until the invitation times out, reject, hang up after N s). `poll()` releases the
events whose time has come.
"""

import heapq
import itertools

from calls.carrier import CalleeScript, CarrierEvent, Clock, Dial, LegOutcome, Originate

DEFAULT_SCRIPT = CalleeScript()
# How long failure signalling takes on the simulated network.
QUICK = 0.2


class SimulatedCarrier:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._timeline: list[tuple[float, int, CarrierEvent]] = []
        self._order = itertools.count()  # ties keep scheduling order
        self._legs: dict[str, dict] = {}

    # --- commands ---
    def dial(self, command: Dial) -> None:
        script = command.script or DEFAULT_SCRIPT
        now = self.clock.now()
        self._legs[command.leg_id] = {"to": command.to, "muted": False, "answered": False}
        outcome = script.outcome
        if outcome in ("answer", "voicemail") and script.answer_after < command.timeout:
            answered_at = now + script.answer_after
            self._at(
                answered_at, command.leg_id, LegOutcome.ANSWERED, voicemail=outcome == "voicemail"
            )
            if script.hang_up_after is not None:
                self._at(answered_at + script.hang_up_after, command.leg_id, LegOutcome.HUNG_UP)
        elif outcome in ("answer", "voicemail", "no_answer"):
            self._at(now + command.timeout, command.leg_id, LegOutcome.NO_ANSWER)
        elif outcome == "busy":
            self._at(now + min(QUICK, command.timeout), command.leg_id, LegOutcome.BUSY)
        elif outcome == "reject":
            self._at(
                now + min(script.answer_after, command.timeout), command.leg_id, LegOutcome.REJECTED
            )
        else:
            self._at(now + QUICK, command.leg_id, LegOutcome.FAILED)

    def originate(self, command: Originate) -> None:
        """A scripted caller rings our number now and gives up after `ring_timeout`."""
        now = self.clock.now()
        self._legs[command.leg_id] = {
            "to": command.to,
            "muted": False,
            "script": command.script or DEFAULT_SCRIPT,
        }
        detail = {"from": command.caller, "to": command.to, "display_name": command.display_name}
        self._at(now, command.leg_id, LegOutcome.INCOMING, **detail)
        self._at(now + command.ring_timeout, command.leg_id, LegOutcome.NO_ANSWER)

    def answer(self, leg_id: str) -> None:
        leg = self._legs.get(leg_id)
        if leg is None:
            return  # the caller already gave up; its NO_ANSWER event tells the engine
        self._forget_timeline(leg_id)
        now = self.clock.now()
        self._at(now, leg_id, LegOutcome.ANSWERED)
        script = leg.get("script") or DEFAULT_SCRIPT
        if script.hang_up_after is not None:
            self._at(now + script.hang_up_after, leg_id, LegOutcome.HUNG_UP)

    def reject(self, leg_id: str, sip_code: int) -> None:
        self.hang_up(leg_id)

    def hang_up(self, leg_id: str) -> None:
        # Our side ended the leg: whatever the callee would still have done is moot.
        self._legs.pop(leg_id, None)
        self._forget_timeline(leg_id)

    def _forget_timeline(self, leg_id: str) -> None:
        self._timeline = [item for item in self._timeline if item[2].leg_id != leg_id]
        heapq.heapify(self._timeline)

    def set_muted(self, leg_id: str, muted: bool) -> None:
        if leg_id in self._legs:
            self._legs[leg_id]["muted"] = muted

    # --- events ---
    def poll(self) -> list[CarrierEvent]:
        now = self.clock.now()
        due = []
        while self._timeline and self._timeline[0][0] <= now:
            _, _, event = heapq.heappop(self._timeline)
            if event.kind not in (LegOutcome.ANSWERED, LegOutcome.INCOMING):
                self._legs.pop(event.leg_id, None)  # every other outcome ends the leg
            due.append(event)
        return due

    def next_event_at(self) -> float | None:
        return self._timeline[0][0] if self._timeline else None

    def live_legs(self) -> set[str]:
        return set(self._legs)

    def _at(self, when: float, leg_id: str, kind: str, **detail: object) -> None:
        event = CarrierEvent(leg_id=leg_id, kind=kind, detail=detail)
        heapq.heappush(self._timeline, (when, next(self._order), event))
