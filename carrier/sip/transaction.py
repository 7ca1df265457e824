"""SIP transactions over UDP (RFC 3261 §17): retransmission and timeout timers.

UDP loses packets, so every request is retransmitted until a response arrives (Timer A/E,
doubling from T1, non-INVITE capped at T2), a client gives up after 64*T1 (Timer B/F), a
server retransmits its final non-2xx answer to INVITE until the ACK (Timer G, H) and
absorbs retransmitted requests afterwards (Timer I/J). The 2xx to INVITE is not the
transaction's: the dialog layer (ua) retransmits it until the ACK, as §13.3.1.4 says.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from carrier.sip.message import SipMessage, Via

log = logging.getLogger(__name__)

Addr = tuple[str, int]


class Timers:
    """RFC 3261's T1, T2, T4 (seconds); tests may shorten them."""

    def __init__(self, t1: float = 0.5, t2: float = 4.0, t4: float = 5.0) -> None:
        self.t1, self.t2, self.t4 = t1, t2, t4


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


class ClientTransaction:
    """Sends `request` to `addr` until a final response; reports each response and a
    timeout (a synthetic 408) through `on_response`."""

    def __init__(
        self,
        layer: TransactionLayer,
        request: SipMessage,
        addr: Addr,
        on_response: Callable[[SipMessage], None],
    ) -> None:
        self.layer, self.request, self.addr = layer, request, addr
        self.on_response = on_response
        self.invite = request.method == "INVITE"
        self.branch = request.top_via.branch
        self.key = (self.branch, request.method)
        self.state = "calling"
        self._interval = layer.timers.t1
        self._retransmit: asyncio.TimerHandle | None = None
        self._timeout: asyncio.TimerHandle | None = None
        self.final: SipMessage | None = None
        self.retransmissions = 0

    def start(self) -> None:
        self.layer.clients[self.key] = self
        self.layer.send(self.request, self.addr)
        self._retransmit = self.layer.later(self._interval, self._resend)
        self._timeout = self.layer.later(64 * self.layer.timers.t1, self._timed_out)

    def _resend(self) -> None:
        if self.state not in ("calling", "trying"):
            return
        self.retransmissions += 1
        self.layer.retransmissions += 1
        self.layer.send(self.request, self.addr)
        if self.invite:
            self._interval *= 2
        else:
            self._interval = min(self._interval * 2, self.layer.timers.t2)
        self._retransmit = self.layer.later(self._interval, self._resend)

    def _timed_out(self) -> None:
        if self.state in ("calling", "trying", "proceeding"):
            self._terminate()
            timeout = SipMessage(status=408, reason="Request Timeout (no response)")
            timeout.headers = self.request.headers.copy()
            self.on_response(timeout)

    def receive(self, response: SipMessage) -> None:
        if response.status < 200:
            if self.state in ("calling", "trying"):
                self.state = "proceeding"
                # INVITE stops retransmitting on a provisional; non-INVITE slows to T2.
                if self._retransmit:
                    self._retransmit.cancel()
                if not self.invite:
                    self._interval = self.layer.timers.t2
                    self._retransmit = self.layer.later(self._interval, self._resend)
            if self.state == "proceeding":
                self.on_response(response)
            return
        if self.state == "completed":
            if self.invite and response.status >= 300:
                self.layer.send(self._ack(response), self.addr)  # our ACK was lost
            return
        if self.state == "terminated":
            return
        self.final = response
        if self.invite and response.status >= 300:
            self.layer.send(self._ack(response), self.addr)
            self.state = "completed"
            self._cancel_timers()
            self.layer.later(
                32.0 if self.layer.timers.t1 >= 0.5 else 64 * self.layer.timers.t1, self._terminate
            )
        elif self.invite:
            # 2xx: the transaction ends; the dialog ACKs (and ACKs retransmissions).
            self._terminate()
        else:
            self.state = "completed"
            self._cancel_timers()
            self.layer.later(self.layer.timers.t4, self._terminate)
        self.on_response(response)

    def _ack(self, response: SipMessage) -> SipMessage:
        """The ACK for a non-2xx final response, inside the transaction (§17.1.1.3)."""
        ack = SipMessage(method="ACK", uri=self.request.uri)
        ack.headers.add("Via", self.request.headers.get_all("Via")[0])
        for name in ("Route",):
            for value in self.request.headers.get_all(name):
                ack.headers.add(name, value)
        ack.headers.add("Max-Forwards", "70")
        ack.headers.add("From", self.request.headers.get("From") or "")
        ack.headers.add("To", response.headers.get("To") or "")
        ack.headers.add("Call-ID", self.request.call_id)
        ack.headers.add("CSeq", f"{self.request.cseq[0]} ACK")
        return ack

    def _cancel_timers(self) -> None:
        for handle in (self._retransmit, self._timeout):
            if handle:
                handle.cancel()

    def _terminate(self) -> None:
        self.state = "terminated"
        self._cancel_timers()
        if self.layer.clients.get(self.key) is self:
            del self.layer.clients[self.key]


class ServerTransaction:
    """Answers one request; resends its last response when the request is retransmitted."""

    def __init__(self, layer: TransactionLayer, request: SipMessage, addr: Addr) -> None:
        self.layer, self.request, self.addr = layer, request, addr
        self.invite = request.method == "INVITE"
        via = request.top_via
        self.key = (via.branch, via.host, via.port, request.method)
        self.state = "trying"
        self.last: SipMessage | None = None
        self._interval = layer.timers.t1
        self._handles: list[asyncio.TimerHandle] = []
        self.on_ack: Callable[[SipMessage], None] | None = None

    def respond(self, response: SipMessage) -> None:
        if self.state in ("completed", "confirmed", "terminated"):
            return
        self.last = response
        self.layer.send(response, self.addr)
        if response.status < 200:
            self.state = "proceeding"
            return
        timers = self.layer.timers
        if self.invite and response.status < 300:
            # The dialog retransmits the 2xx until the ACK; a retransmitted INVITE still
            # gets it again from here (RFC 6026's "Accepted" state).
            self.state = "accepted"
            self._handles.append(self.layer.later(64 * timers.t1, self._terminate))
        elif self.invite:
            self.state = "completed"
            self._handles.append(self.layer.later(self._interval, self._resend))
            self._handles.append(self.layer.later(64 * timers.t1, self._terminate))  # Timer H
        else:
            self.state = "completed"
            self._handles.append(self.layer.later(64 * timers.t1, self._terminate))  # Timer J

    def _resend(self) -> None:
        if self.state != "completed" or self.last is None:
            return
        self.layer.retransmissions += 1
        self.layer.send(self.last, self.addr)
        self._interval = min(self._interval * 2, self.layer.timers.t2)
        self._handles.append(self.layer.later(self._interval, self._resend))

    def retransmitted(self) -> None:
        if self.last is not None:
            self.layer.send(self.last, self.addr)

    def acked(self, ack: SipMessage) -> None:
        if self.state == "completed":
            self.state = "confirmed"
            for handle in self._handles:
                handle.cancel()
            self._handles = [self.layer.later(self.layer.timers.t4, self._terminate)]  # Timer I

    def _terminate(self) -> None:
        self.state = "terminated"
        for handle in self._handles:
            handle.cancel()
        if self.layer.servers.get(self.key) is self:
            del self.layer.servers[self.key]


class TransactionLayer:
    """Matches messages to transactions; what matches none goes to the user agent."""

    def __init__(
        self,
        send: Callable[[SipMessage, Addr], None],
        loop: asyncio.AbstractEventLoop,
        timers: Timers | None = None,
    ) -> None:
        self.send = send
        self.loop = loop
        self.timers = timers or Timers()
        self.clients: dict[tuple[str, str], ClientTransaction] = {}
        self.servers: dict[tuple, ServerTransaction] = {}
        self.retransmissions = 0

    def later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, _guarded(callback))

    def request(
        self, request: SipMessage, addr: Addr, on_response: Callable[[SipMessage], None]
    ) -> ClientTransaction:
        transaction = ClientTransaction(self, request, addr, on_response)
        transaction.start()
        return transaction

    def match_response(self, response: SipMessage) -> bool:
        """Hand a response to its client transaction; False when none is waiting for it."""
        via = response.top_via
        transaction = self.clients.get((via.branch, response.cseq[1]))
        if transaction is None:
            return False
        transaction.receive(response)
        return True

    def match_request(self, request: SipMessage, addr: Addr) -> ServerTransaction | None:
        """The new server transaction for `request` (not an ACK), or None if it was a
        retransmission, answered again here."""
        via: Via = request.top_via
        key = (via.branch, via.host, via.port, request.method)
        existing = self.servers.get(key)
        if existing is not None:
            existing.retransmitted()
            return None
        transaction = ServerTransaction(self, request, addr)
        self.servers[key] = transaction
        return transaction

    def absorb_ack(self, ack: SipMessage) -> bool:
        """True if `ack` acknowledges a non-2xx final answer of ours (the transaction's
        business); False for the ACK of a 2xx, which belongs to the dialog."""
        via = ack.top_via
        invite = self.servers.get((via.branch, via.host, via.port, "INVITE"))
        if invite is not None and invite.state in ("completed", "confirmed"):
            invite.acked(ack)
            return True
        return False

    def invite_server(self, branch: str, host: str, port: int | None) -> ServerTransaction | None:
        """The INVITE transaction a CANCEL names (same branch and sent-by)."""
        return self.servers.get((branch, host, port, "INVITE"))


def _guarded(callback: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            callback()
        except Exception:  # a timer bug must not kill the loop's other calls
            log.exception("SIP timer callback failed")

    return run
