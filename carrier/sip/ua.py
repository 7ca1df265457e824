"""The trunk-facing SIP user agent: calls out and in, over one UDP socket.

Outbound: INVITE (digest auth on 401/407), provisional responses with early media, the
first 2xx wins and is ACKed (retransmitted 2xx are ACKed again), 2xx from other forks are
ACKed and hung up at once, CANCEL on ring timeout or hang-up (held until a provisional
came, §9.1). Inbound: 100/180 at once, 200 retransmitted until the ACK, CANCEL → 487.
In dialog: BYE both ways, re-INVITE and UPDATE answered with our SDP (hold from the peer),
our re-INVITE for hold/unhold, OPTIONS and INFO. Out of dialog: OPTIONS answered and sent
(pings), REGISTER with refresh. The media side is the listener's business (driver).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from carrier.sip import digest, sdp
from carrier.sip.config import TrunkConfig
from carrier.sip.dialog import ALLOW, SUPPORTED, Dialog, new_call_id, new_tag
from carrier.sip.message import NameAddr, SipMessage, SipParseError, Uri, Via, parse
from carrier.sip.registration import OutOfDialog
from carrier.sip.session import Listener, SipCall
from carrier.sip.trace import TraceBook
from carrier.sip.transaction import Addr, Timers, TransactionLayer, new_branch
from carrier.sip.uas import Inbound

log = logging.getLogger(__name__)


class UserAgent(Inbound, OutOfDialog, asyncio.DatagramProtocol):
    """One UDP socket facing one trunk; calls and transactions keyed as RFC 3261 says."""

    def __init__(
        self,
        config: TrunkConfig,
        listener: Listener,
        *,
        timers: Timers | None = None,
        trace: TraceBook | None = None,
    ) -> None:
        self.config = config
        self.listener = listener
        self.trace = trace or TraceBook()
        self.timers = timers or Timers()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.layer: TransactionLayer | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.port = config.sip_port
        self.calls: dict[tuple[str, str], SipCall] = {}  # (Call-ID, our tag) -> call
        self.registration: dict[str, object] = {"state": "off"}
        self.last_ping: dict[str, object] = {}
        self._register_call_id = ""
        self._register_cseq = 0
        self._register_timer: asyncio.TimerHandle | None = None

    # --- socket ---
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.layer = TransactionLayer(self.send, self.loop, self.timers)
        self.transport, _ = await self.loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.config.bind_host, self.config.sip_port)
        )
        self.port = self.transport.get_extra_info("sockname")[1]
        if self.config.register:
            self.register()

    def close(self) -> None:
        if self._register_timer:
            self._register_timer.cancel()
        if self.transport:
            self.transport.close()
            # The loop outlives this agent (shared by the process's trunks): a timer of
            # ours that still fires (a retransmission) must find nothing to send on.
            self.transport = None

    def send(self, message: SipMessage, addr: Addr) -> None:
        self.trace.record("out", addr, message)
        if self.transport is not None:
            self.transport.sendto(message.encode(), addr)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        if not data.strip():
            return  # CRLF keep-alive
        try:
            message = parse(data)
        except (SipParseError, ValueError) as exc:
            log.info("dropped an unreadable SIP datagram from %s: %s", addr, exc)
            return
        self.trace.record("in", addr, message)
        try:
            if message.is_request:
                self._on_request(message, addr)
            elif not self.layer.match_response(message):
                self._stray_response(message)
        except Exception:
            log.exception("SIP message handling failed: %s", message.first_line)

    # --- addresses ---
    @property
    def contact(self) -> str:
        user = self.config.username or "callauto"
        return f"<sip:{user}@{self.config.contact_host}:{self.port}>"

    def _via(self) -> str:
        params = {"branch": new_branch(), "rport": None}
        return str(Via("UDP", self.config.contact_host, self.port, params))

    def _uri(self, user: str) -> Uri:
        port = self.config.proxy_port if self.config.sip_domain == self.config.proxy_host else None
        return Uri(self.config.sip_domain, user, port if port != 5060 else None)

    @property
    def proxy(self) -> Addr:
        return (self.config.proxy_host, self.config.proxy_port)

    def live_calls(self) -> int:
        return sum(1 for call in self.calls.values() if call.state != "ended")

    # --- outbound calls ---
    def invite(
        self,
        leg_id: str,
        user: str,
        caller: str,
        body: bytes,
        display: str = "",
        uri: Uri | None = None,
        headers: dict[str, str] | None = None,
    ) -> SipCall:
        """Send an INVITE for `user` at the trunk (or straight to `uri`), from `caller`,
        offering `body`, with the app's custom `headers` (customCallingContext sipHeaders,
        checked by calls.custom_context: token names, printable values, no line breaks)."""
        tag = new_tag()
        from_addr = NameAddr(self._uri(caller), display, {"tag": tag})
        target = uri or self._uri(user)
        request = SipMessage(method="INVITE", uri=str(target))
        request.headers.add("Via", self._via())
        request.headers.add("Max-Forwards", "70")
        request.headers.add("From", str(from_addr))
        request.headers.add("To", str(NameAddr(target)))
        request.headers.add("Call-ID", new_call_id(self.config.contact_host))
        request.headers.add("CSeq", "1 INVITE")
        request.headers.add("Contact", self.contact)
        if self.config.send_pai:
            request.headers.add("P-Asserted-Identity", f"<{self._uri(caller)}>")
        for name, value in [*self.config.extra.items(), *(headers or {}).items()]:
            request.headers.add(name, value)
        self._common(request)
        request.headers.add("Content-Type", "application/sdp")
        request.body = body
        call = SipCall(leg_id, True, request, target.hostport if uri else self.proxy, tag)
        self.calls[(request.call_id, tag)] = call
        self._send_invite(call)
        return call

    def _common(self, request: SipMessage) -> None:
        request.headers.add("Allow", ALLOW)
        request.headers.add("Supported", SUPPORTED)
        request.headers.add("User-Agent", self.config.user_agent)

    def _send_invite(self, call: SipCall) -> None:
        self.layer.request(call.invite, call.peer, lambda r: self._invite_response(call, r))

    def _invite_response(self, call: SipCall, response: SipMessage) -> None:
        status = response.status
        if call.state == "ended":
            if 200 <= status < 300:
                self._ack_and_bye(call, response)
            return
        if status < 200:
            call.provisional = True  # from now on a CANCEL may be sent (§9.1)
            if status > 100:
                if response.to_tag and call.state == "calling":
                    call.state = "early"
                self.listener.progress(call, status, _session(response))
            if call.cancel:
                self._send_cancel(call)
            return
        if status < 300:
            self._answered(call, response)
            return
        retry = status in (401, 407) and call.auth_tries < 1 and not call.cancel
        if retry and self._retry_with_auth(call, response):
            return
        call.state, call.final_status = "ended", status
        self.calls.pop((call.call_id, call.local_tag), None)
        if call.cancel == "hang_up":
            return  # our side ended it: nothing to report
        if call.cancel == "timeout":
            status = 408 if status == 487 else status
        self.listener.failed(call, status, response.reason)

    def _retry_with_auth(self, call: SipCall, challenge_response: SipMessage) -> bool:
        header = "WWW-Authenticate" if challenge_response.status == 401 else "Proxy-Authenticate"
        value = challenge_response.headers.get(header)
        if not value or not self.config.username:
            return False
        try:
            challenge = digest.Challenge.parse(value)
        except digest.DigestError as exc:
            log.info("cannot answer the trunk's challenge: %s", exc)
            return False
        call.auth_tries += 1
        request = _reissue(call.invite, self._via())
        request.headers.add(
            "Authorization" if challenge_response.status == 401 else "Proxy-Authorization",
            digest.authorization(
                challenge,
                username=self.config.username,
                password=self.config.password,
                method="INVITE",
                uri=request.uri,
            ),
        )
        call.invite = request
        call.provisional = False
        self._send_invite(call)
        return True

    def _answered(self, call: SipCall, response: SipMessage) -> None:
        if call.dialog is not None:
            if response.to_tag == call.dialog.remote_tag:
                self.send(self._ack(call.dialog, response), call.dialog.next_hop())
            else:
                self._ack_and_bye(call, response)  # a second fork answered too
            return
        call.dialog = Dialog.as_uac(call.invite, response)
        self.send(self._ack(call.dialog, response), call.dialog.next_hop())
        if call.cancel:
            # Our CANCEL crossed the 2xx: the call is up, so end it with BYE.
            call.state = "ended"
            self.bye(call)
            if call.cancel == "timeout":
                self.listener.failed(call, 408, "Request Timeout")
            return
        call.state, call.answered_at = "confirmed", time.monotonic()
        self.listener.answered(call, _session(response))

    def _ack(self, dialog: Dialog, response: SipMessage) -> SipMessage:
        ack = dialog.request(
            "ACK",
            via_host=self.config.contact_host,
            via_port=self.port,
            contact=self.contact,
            cseq=response.cseq[0],
        )
        return ack

    def _ack_and_bye(self, call: SipCall, response: SipMessage) -> None:
        """ACK a 2xx we do not want (another fork, or after we gave up), then BYE it."""
        dialog = Dialog.as_uac(call.invite, response)
        self.send(self._ack(dialog, response), dialog.next_hop())
        bye = self._in_dialog(dialog, "BYE")
        self.layer.request(bye, dialog.next_hop(), lambda _r: None)

    def _stray_response(self, response: SipMessage) -> None:
        """A response no transaction waits for: a retransmitted or forked 2xx to INVITE."""
        if response.cseq[1] != "INVITE" or not 200 <= response.status < 300:
            return
        call = self.calls.get((response.call_id, response.from_tag))
        if call is not None and call.outbound:
            self._answered(call, response)

    def cancel(self, call: SipCall, reason: str) -> None:
        """Give up ringing: CANCEL now, or when the first provisional response comes."""
        if call.state not in ("calling", "early") or call.cancel:
            return
        call.cancel = reason
        if call.provisional:
            self._send_cancel(call)

    def _send_cancel(self, call: SipCall) -> None:
        if getattr(call, "_cancel_sent", False):
            return
        call._cancel_sent = True  # type: ignore[attr-defined]
        invite = call.invite
        cancel = SipMessage(method="CANCEL", uri=invite.uri)
        cancel.headers.add("Via", invite.headers.get_all("Via")[0])
        for route in invite.headers.get_all("Route"):
            cancel.headers.add("Route", route)
        cancel.headers.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            cancel.headers.add(name, invite.headers.get(name) or "")
        cancel.headers.add("CSeq", f"{invite.cseq[0]} CANCEL")
        self.layer.request(cancel, call.peer, lambda _r: None)

    # --- in dialog, both directions ---
    def _in_dialog(self, dialog: Dialog, method: str) -> SipMessage:
        request = dialog.request(
            method, via_host=self.config.contact_host, via_port=self.port, contact=self.contact
        )
        request.headers.add("User-Agent", self.config.user_agent)
        return request

    def bye(self, call: SipCall) -> None:
        """Hang up an established leg (no event: our side ended it)."""
        if call.dialog is None:
            return
        call.state = "ended"
        self._stop_ok(call)
        request = self._in_dialog(call.dialog, "BYE")
        self._request_with_auth(request, call.dialog.next_hop(), lambda _r: None, call.dialog)
        self.calls.pop((call.call_id, call.local_tag), None)

    def reinvite(self, call: SipCall, body: bytes) -> None:
        """Offer new SDP in the dialog (hold: sendonly; unhold: sendrecv)."""
        if call.dialog is None or call.state != "confirmed":
            return
        request = self._in_dialog(call.dialog, "INVITE")
        self._common(request)
        request.headers.add("Content-Type", "application/sdp")
        request.body = body
        hop = call.dialog.next_hop()

        def on_response(response: SipMessage) -> None:
            if 200 <= response.status < 300 and call.dialog is not None:
                self.send(self._ack(call.dialog, response), hop)
                session = _session(response)
                if session is not None:
                    self.listener.reanswered(call, session)
            elif response.status == 491 and self.loop:  # glare: try again a bit later
                self.loop.call_later(2.5, lambda: self.reinvite(call, body))

        self.layer.request(request, hop, on_response)

    def _request_with_auth(
        self,
        request: SipMessage,
        addr: Addr,
        on_final: Callable[[SipMessage], None],
        dialog: Dialog | None = None,
    ) -> None:
        """Send a non-INVITE request, answering one digest challenge if it comes."""
        tried = False

        def on_response(response: SipMessage) -> None:
            nonlocal tried, request
            if response.status < 200:
                return
            if response.status in (401, 407) and not tried and self.config.username:
                header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
                with contextlib.suppress(digest.DigestError, TypeError):
                    challenge = digest.Challenge.parse(response.headers.get(header) or "")
                    tried = True
                    cseq = request.cseq[0] + 1
                    if dialog is not None:
                        dialog.local_cseq = cseq
                    request = _reissue(request, self._via(), cseq=cseq)
                    request.headers.add(
                        "Authorization" if response.status == 401 else "Proxy-Authorization",
                        digest.authorization(
                            challenge,
                            username=self.config.username,
                            password=self.config.password,
                            method=request.method,
                            uri=request.uri,
                        ),
                    )
                    self.layer.request(request, addr, on_response)
                    return
            on_final(response)

        self.layer.request(request, addr, on_response)


def _session(message: SipMessage) -> sdp.Session | None:
    if not message.body or "sdp" not in (message.headers.get("Content-Type") or "").lower():
        return None
    try:
        return sdp.parse(message.body)
    except (sdp.SdpError, ValueError):
        return None


def _reissue(request: SipMessage, via: str, cseq: int | None = None) -> SipMessage:
    """The same request as a new transaction: new top Via, next CSeq, no old credentials."""
    copy = SipMessage(method=request.method, uri=request.uri, body=request.body)
    copy.headers = request.headers.copy()
    for name in ("Authorization", "Proxy-Authorization", "Via"):
        copy.headers.remove(name)
    number = cseq if cseq is not None else request.cseq[0] + 1
    copy.headers.set("CSeq", f"{number} {request.method}")
    rebuilt = SipMessage(method=copy.method, uri=copy.uri, body=copy.body)
    rebuilt.headers.add("Via", via)
    for name, value in copy.headers:
        rebuilt.headers.add(name, value)
    return rebuilt
