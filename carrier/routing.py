"""`CarrierRouter`: one Carrier made of several networks, leg by leg.

A gateway carries simulated legs and legs on any number of SIP trunks at once. A Dial
names its network in `route` (a trunk's key; "" is the default network, the simulated
carrier); an incoming leg belongs to the network it rang in on. From then on every
command about the leg, or about a media operation or a recording started on it, goes
to that leg's network, and polling drains them all. Incoming events are tagged with
their network (`detail["route"]`) so the engine can check that a trunk only delivers
calls to numbers bound to it.

A call whose legs sit on different networks is mixed across them by `carrier.bridge`:
one SIP carrier of the call (its hub) mixes every leg, the others joining its mixer as
parties; the call's plays and recordings then run on the hub. The gateway tells the
router which call an answered incoming leg belongs to (`join`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from carrier.bridge import Bridges
from carrier.interface import (
    Carrier,
    CarrierEvent,
    Collect,
    Dial,
    LegOutcome,
    MediaOutcome,
    Originate,
    Play,
    Record,
    RecordingOutcome,
    SendTones,
    Stream,
    StreamOutcome,
)


class CarrierRouter:
    def __init__(self, default: Carrier) -> None:
        self.default = default
        self.networks: dict[str, Carrier] = {}
        self._legs: dict[str, Carrier] = {}
        self._ops: dict[str, Carrier] = {}
        self._recordings: dict[str, Carrier] = {}
        self._streams: dict[str, Carrier] = {}
        self._pending: list[CarrierEvent] = []  # failures of our own making
        self.bridges = Bridges(self._for_leg)
        taping = getattr(default, "taping", None)
        if taping is not None:
            taping.taps.append(self.bridges.tap)  # simulated voices into a SIP hub's mix

    # --- networks ---
    def add(self, route: str, carrier: Carrier) -> None:
        self.networks[route] = carrier

    def remove(self, route: str) -> Carrier | None:
        """Take a network away (its live legs stay where they are until they end)."""
        return self.networks.pop(route, None)

    def _for_leg(self, leg_id: str) -> Carrier:
        return self._legs.get(leg_id, self.default)

    def route_of(self, leg_id: str) -> str:
        carrier = self._legs.get(leg_id)
        for route, network in self.networks.items():
            if network is carrier:
                return route
        return ""

    # --- the Carrier protocol ---
    def dial(self, command: Dial) -> None:
        carrier = self.networks.get(command.route) if command.route else self.default
        if carrier is None:
            # The trunk is not carried here (disabled, or failed to start): fail the leg
            # as a carrier would, with the SIP answer a proxy gives for it.
            detail = {"sip_code": 503, "reason": "The number's SIP trunk is not available"}
            self._pending.append(CarrierEvent(command.leg_id, LegOutcome.FAILED, detail))
            return
        self._legs[command.leg_id] = carrier
        self.bridges.placed(command.leg_id, command.call, command.to)
        carrier.dial(command)

    def originate(self, command: Originate) -> None:
        self._legs[command.leg_id] = self.default
        self.default.originate(command)  # type: ignore[attr-defined]

    def answer(self, leg_id: str) -> None:
        self._for_leg(leg_id).answer(leg_id)

    def reject(self, leg_id: str, sip_code: int) -> None:
        self._for_leg(leg_id).reject(leg_id, sip_code)

    def hang_up(self, leg_id: str) -> None:
        self.bridges.down(leg_id)
        self._for_leg(leg_id).hang_up(leg_id)

    def join(self, leg_id: str, call: str, who: str = "") -> None:
        """The leg belongs to `call` (an answered incoming leg): mix it with the call."""
        self.bridges.placed(leg_id, call, who)
        network = self._for_leg(leg_id)
        if hasattr(network, "join"):
            network.join(leg_id, call, who)

    def set_muted(self, leg_id: str, muted: bool) -> None:
        self._for_leg(leg_id).set_muted(leg_id, muted)
        hub = self.bridges.hub_of_leg(leg_id)
        if hub is not None and hub is not self._for_leg(leg_id):
            hub.set_muted(leg_id, muted)  # its party in the hub's mix

    def _media_network(self, legs: Any) -> Carrier:
        """Where a play or recording for `legs` runs: the hub of a bridged call (it mixes
        every leg), else the first leg's network."""
        if not legs:
            return self.default
        leg = legs[0] if isinstance(legs[0], str) else legs[0][0]
        return self.bridges.hub_of_leg(leg) or self._for_leg(leg)

    def play(self, command: Play) -> None:
        carrier = self._media_network(command.legs)
        if carrier is not self._for_leg(command.legs[0]):
            command = replace(command, legs=self.bridges.in_hub(command.legs))
        self._ops[command.op_id] = carrier
        carrier.play(command)

    def collect(self, command: Collect) -> None:
        carrier = self._for_leg(command.leg)
        self._ops[command.op_id] = carrier
        carrier.collect(command)

    def send_tones(self, command: SendTones) -> None:
        carrier = self._for_leg(command.leg)
        self._ops[command.op_id] = carrier
        carrier.send_tones(command)

    def stop_media(self, op_id: str) -> None:
        self._ops.get(op_id, self.default).stop_media(op_id)

    def listen_dtmf(self, leg_id: str, on: bool) -> None:
        self._for_leg(leg_id).listen_dtmf(leg_id, on)

    def start_recording(self, command: Record) -> None:
        # A recording is made where the call's legs are mixed (see _media_network).
        carrier = self.bridges.hub(command.call) or self._media_network(command.legs)
        self._recordings[command.recording_id] = carrier
        carrier.start_recording(command)

    def pause_recording(self, recording_id: str) -> None:
        self._recordings.get(recording_id, self.default).pause_recording(recording_id)

    def resume_recording(self, recording_id: str) -> None:
        self._recordings.get(recording_id, self.default).resume_recording(recording_id)

    def stop_recording(self, recording_id: str) -> None:
        self._recordings.get(recording_id, self.default).stop_recording(recording_id)

    # A stream taps the call where its legs are (the first leg's network), as a recording.
    def start_stream(self, command: Stream) -> None:
        carrier = self._for_leg(command.legs[0][0]) if command.legs else self.default
        self._streams[command.stream_id] = carrier
        carrier.start_stream(command)

    def stop_stream(self, stream_id: str) -> None:
        self._streams.pop(stream_id, self.default).stop_stream(stream_id)

    @property
    def recognizes_speech(self) -> bool:
        carriers = [self.default, *self.networks.values()]
        return all(getattr(carrier, "recognizes_speech", False) for carrier in carriers)

    def poll(self) -> list[CarrierEvent]:
        events, self._pending = self._pending, []
        for route, carrier in [("", self.default), *self.networks.items()]:
            for event in carrier.poll():
                events.append(self._seen(route, carrier, event))
        return events

    def _seen(self, route: str, carrier: Carrier, event: CarrierEvent) -> CarrierEvent:
        """Remember where a new leg lives; forget what has ended."""
        if event.kind == LegOutcome.INCOMING:
            self._legs[event.leg_id] = carrier
            return replace(event, detail={**event.detail, "route": route})
        if event.kind == LegOutcome.ANSWERED:
            self.bridges.up(event.leg_id)
        elif event.kind in LegOutcome.ENDS:
            self.bridges.down(event.leg_id)
        if event.kind == LegOutcome.CLOSED:
            self._legs.pop(event.leg_id, None)
        elif event.kind in _OP_ENDS and "op" in event.detail:
            self._ops.pop(event.detail["op"], None)
        elif event.kind in (RecordingOutcome.READY, RecordingOutcome.FAILED):
            self._recordings.pop(event.detail.get("recording", ""), None)
        elif event.kind in (StreamOutcome.STOPPED, StreamOutcome.FAILED):
            self._streams.pop(event.detail.get("stream", ""), None)
        return event

    def live_legs(self) -> set[str]:
        live = set(self.default.live_legs())
        for carrier in self.networks.values():
            live |= carrier.live_legs()
        return live

    def press(self, leg: str, key: str) -> None:
        self._for_leg(leg).press(leg, key)

    def callee_answer(self, leg_id: str) -> None:
        self._for_leg(leg_id).callee_answer(leg_id)

    def callee_hang_up(self, leg_id: str) -> None:
        self._for_leg(leg_id).callee_hang_up(leg_id)

    def bye_dialogs(self, route: str, snapshots: list[dict[str, Any]]) -> None:
        """BYE dialogs a previous run left up on the network `route` (SIP only)."""
        carrier = self.networks.get(route)
        if carrier is not None:
            carrier.bye_dialogs(snapshots)  # type: ignore[attr-defined]

    # --- what the simulated default offers the gateway loop ---
    @property
    def clock(self) -> Any:
        return self.default.clock  # type: ignore[attr-defined]

    def next_event_at(self) -> float | None:
        upcoming = getattr(self.default, "next_event_at", None)
        return upcoming() if upcoming else None


_OP_ENDS = {
    MediaOutcome.PLAY_FINISHED,
    MediaOutcome.PLAY_FAILED,
    MediaOutcome.RECOGNIZED,
    MediaOutcome.RECOGNIZE_FAILED,
    MediaOutcome.TONES_SENT,
    MediaOutcome.FAILED,
}
