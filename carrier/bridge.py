"""Mixing one call's audio across networks: a SIP leg and a simulated (or softphone) leg,
or legs on two SIP trunks, each hear the sum of the others.

Every SIP carrier mixes its own legs on its own 20 ms media clock. When a call has legs
up on more than one network, one SIP carrier of the call becomes its *hub*: every leg
elsewhere is represented in the hub's mixer by a party (`SipCarrier.attach`), so the hub
clock alone decides when audio moves (one clock owner, nothing else ticks):
- a simulated leg gets an `ExternalParty`: what its callee says (scripted phrases, the
  "hello" on answer, the keys it presses as DTMF tones; the simulated taping's listeners)
  is queued on it and said on the hub's next ticks; what the mix sends it is kept in its
  `heard` buffer (a simulated person has no ears, but tests and tools read it);
- another SIP carrier of the same process shares the hub's media engine (carrier.sip.
  runtime): its legs are already in the hub's mixer, joined by call; nothing to add;
- a SIP carrier with an engine of its own (another runtime) is joined by a `Link`: two
  cross-wired parties, one in each mixer, each saying what the other heard. Each mixer's
  mix-minus then gives every leg the sum of all the others on both sides. The queues
  between the two clocks are short (drop the oldest), so their drift can never build a
  delay.
Nothing here blocks: taps and attach calls only queue work (deque appends are atomic).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from carrier.sip.mixer import ExternalParty

LINK_DEPTH = 5  # frames queued between two clocks at most (100 ms)


class _End:
    """One side of a Link: a party in one mixer, saying what the other side heard."""

    def __init__(self) -> None:
        self.inbox: deque[np.ndarray] = deque(maxlen=LINK_DEPTH)
        self.peer: _End | None = None

    def pull(self) -> np.ndarray | None:
        return self.inbox.popleft() if self.inbox else None

    def push(self, frame: np.ndarray | None) -> bool:
        if frame is not None and self.peer is not None:
            self.peer.inbox.append(frame)
        return True

    busy = False


class Link:
    def __init__(self) -> None:
        self.hub_end, self.far_end = _End(), _End()
        self.hub_end.peer, self.far_end.peer = self.far_end, self.hub_end


def _mixes(carrier: Any) -> bool:
    """Does this network mix audio itself (a SIP carrier)?"""
    return hasattr(carrier, "attach") and hasattr(carrier, "detach")


class Bridges:
    """Which legs of which call are up where, and the parties that join the networks."""

    def __init__(self, network_of: Any) -> None:
        self._network_of = network_of  # leg id -> its Carrier
        self._call: dict[str, str] = {}
        self._who: dict[str, str] = {}
        self._up: list[str] = []  # answered legs, oldest first
        self._hubs: dict[str, Any] = {}  # call -> the SIP carrier mixing it
        self._parties: dict[str, ExternalParty] = {}  # simulated leg -> its hub party
        self._links: dict[tuple[str, int], tuple[Any, str]] = {}  # (call, id(far)) -> link legs

    # --- what the router sees ---
    def placed(self, leg: str, call: str, who: str) -> None:
        if call:
            self._call[leg] = call
        if who:
            self._who[leg] = who

    def up(self, leg: str) -> None:
        if leg not in self._up:
            self._up.append(leg)
        call = self._call.get(leg)
        if call:
            self._rebalance(call)

    def down(self, leg: str) -> None:
        if leg in self._up:
            self._up.remove(leg)
        call = self._call.pop(leg, None)
        self._who.pop(leg, None)
        party = self._parties.pop(leg, None)
        hub = self._hubs.get(call) if call else None
        if party is not None and hub is not None:
            hub.detach(leg)
        if call is None or hub is None:
            return
        networks = {id(self._network_of(other)) for other in self._members(call)}
        for key, (far, link_leg) in list(self._links.items()):
            if key[0] == call and key[1] not in networks:
                hub.detach(link_leg)
                far.detach(link_leg)
                del self._links[key]
        if not self._members(call):
            self._hubs.pop(call, None)

    def hub(self, call: str) -> Any:
        """The SIP carrier mixing `call` for all its networks (None: not bridged)."""
        return self._hubs.get(call)

    def hub_of_leg(self, leg: str) -> Any:
        call = self._call.get(leg)
        return self._hubs.get(call) if call else None

    def in_hub(self, legs: tuple[str, ...]) -> tuple[str, ...]:
        """`legs` as the hub's mixer knows them: a leg on a linked trunk is its link."""
        out: list[str] = []
        for leg in legs:
            call, network = self._call.get(leg), self._network_of(leg)
            linked = self._links.get((call or "", id(network)))
            name = linked[1] if linked else leg
            if name not in out:
                out.append(name)
        return tuple(out)

    def party(self, leg: str) -> ExternalParty | None:
        return self._parties.get(leg)

    def tap(self, call: str | None, track: str, _at: int, audio: Any, _kind: str) -> None:
        """A simulated participant says something (taping listener): into the hub's mix."""
        pcm = getattr(audio, "pcm", None)
        if not pcm or not self._parties:
            return
        for leg, party in self._parties.items():
            # An incoming simulated leg has no call on the simulated side: match its rawId.
            if call in (None, self._call.get(leg)) and self._who.get(leg, leg) == track:
                party.feed(np.frombuffer(pcm, dtype="<i2"))

    # --- inside ---
    def _members(self, call: str) -> list[str]:
        return [leg for leg in self._up if self._call.get(leg) == call]

    def _rebalance(self, call: str) -> None:
        members = self._members(call)
        networks = {id(self._network_of(leg)): self._network_of(leg) for leg in members}
        hub = self._hubs.get(call)
        if hub is None:
            if len(networks) < 2:
                return
            sip = [self._network_of(leg) for leg in members if _mixes(self._network_of(leg))]
            if not sip:
                return  # no network here mixes audio (two simulated networks)
            hub = self._hubs[call] = sip[0]
        for leg in members:
            network = self._network_of(leg)
            if network is hub:
                continue
            if _mixes(network):
                if getattr(network, "engine", None) is not getattr(hub, "engine", False):
                    self._link(call, hub, network, self._who.get(leg, ""))
            elif leg not in self._parties:
                party = self._parties[leg] = ExternalParty()
                hub.attach(leg, party, call=call, who=self._who.get(leg, leg))

    def _link(self, call: str, hub: Any, far: Any, who: str) -> None:
        key = (call, id(far))
        if key in self._links:
            return
        link, link_leg = Link(), f"link:{call}:{id(far):x}"
        # On the hub's recording the far trunk is one channel, named after its first leg
        # (all the far trunk's legs of the call, mixed there).
        hub.attach(link_leg, link.hub_end, call=call, who=who or link_leg)
        far.attach(link_leg, link.far_end, call=call, who=link_leg)
        self._links[key] = (far, link_leg)
