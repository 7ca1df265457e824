"""The answering side of the user agent: requests that reach us (RFC 3261 §8.2, §12, §13.3).

New INVITEs get 100 and 180 at once (the driver reports INCOMING and answers later); our
200 is resent until the ACK; CANCEL ends a ringing call with 487; in a dialog, BYE ends
it, re-INVITE and UPDATE get our SDP answer (the peer holding us gets recvonly), INFO
carries DTMF; OPTIONS is answered in and out of dialogs.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any
from uuid import uuid4

from carrier.sip import sdp
from carrier.sip.dialog import ALLOW, SUPPORTED, Dialog, new_tag, response_to
from carrier.sip.message import NameAddr, SipMessage
from carrier.sip.session import REASONS, SipCall
from carrier.sip.transaction import Addr


class Inbound:
    """Mixed into UserAgent (which provides send, layer, calls, listener, timers...)."""

    layer: Any
    listener: Any
    config: Any
    timers: Any
    calls: dict[tuple[str, str], SipCall]

    # --- inbound requests ---
    def _on_request(self, request: SipMessage, addr: Addr) -> None:
        if request.method == "ACK":
            if not self.layer.absorb_ack(request):
                self._ack_received(request)
            return
        transaction = self.layer.match_request(request, addr)
        if transaction is None:
            return  # a retransmission, answered again
        to_tag = request.to_tag
        if request.method == "CANCEL":
            self._cancel_received(request, transaction)
        elif to_tag:
            call = self.calls.get((request.call_id, to_tag))
            if call is None or call.dialog is None:
                transaction.respond(self._response(request, 481))
            else:
                self._in_dialog_request(call, request, transaction)
        elif request.method == "INVITE":
            self._new_invite(request, addr, transaction)
        elif request.method == "OPTIONS":
            transaction.respond(self._capabilities(self._response(request, 200)))
        elif request.method == "BYE":
            transaction.respond(self._response(request, 481))
        else:
            transaction.respond(self._capabilities(self._response(request, 405)))

    def _response(self, request: SipMessage, status: int, to_tag: str = "") -> SipMessage:
        response = response_to(request, status, REASONS.get(status, "Unknown"), to_tag=to_tag)
        response.headers.add("Server", self.config.user_agent)
        return response

    def _capabilities(self, response: SipMessage) -> SipMessage:
        response.headers.add("Allow", ALLOW)
        response.headers.add("Accept", "application/sdp")
        response.headers.add("Supported", SUPPORTED)
        return response

    def _new_invite(self, request: SipMessage, addr: Addr, transaction: object) -> None:
        transaction.respond(self._response(request, 100))
        tag = new_tag()
        if self.live_calls() >= self.config.max_calls:
            transaction.respond(self._response(request, 486, tag))
            return
        try:
            offer = sdp.parse(request.body)
            offer.codec  # noqa: B018 - raises without G.711
        except (sdp.SdpError, ValueError):
            transaction.respond(self._response(request, 488, tag))
            return
        call = SipCall(str(uuid4()), False, request, addr, tag, server_tx=transaction)
        self.calls[(request.call_id, tag)] = call
        transaction.respond(self._with_contact(self._response(request, 180, tag)))
        call.state = "early"
        self.listener.incoming(call, offer)

    def _with_contact(self, response: SipMessage) -> SipMessage:
        response.headers.add("Contact", self.contact)
        return response

    def answer(self, call: SipCall, body: bytes) -> None:
        """Accept a ringing inbound call with our SDP answer."""
        if call.outbound or call.state != "early":
            return
        call.dialog = Dialog.as_uas(call.invite, call.local_tag)
        response = self._capabilities(
            self._with_contact(self._response(call.invite, 200, call.local_tag))
        )
        _session_timer(call.invite, response)
        response.headers.add("Content-Type", "application/sdp")
        response.body = body
        call.server_tx.respond(response)
        call.state, call.answered_at = "confirmed", time.monotonic()
        self._send_ok(call, response, call.invite.cseq[0])

    def reject(self, call: SipCall, status: int) -> None:
        if call.outbound or call.state not in ("calling", "early"):
            return
        call.state, call.final_status = "ended", status
        call.server_tx.respond(self._response(call.invite, status, call.local_tag))
        self.calls.pop((call.call_id, call.local_tag), None)

    def _send_ok(self, call: SipCall, response: SipMessage, cseq: int) -> None:
        """Send a 2xx to INVITE and resend it (T1 doubling to T2) until the ACK (§13.3.1.4)."""
        self._stop_ok(call)
        call.ok, call.ok_cseq = response, cseq
        started, interval = time.monotonic(), self.timers.t1

        def resend() -> None:
            nonlocal interval
            if call.ok is not response or call.state == "ended":
                return
            if time.monotonic() - started >= 64 * self.timers.t1:
                call.ok = None
                if cseq == call.invite.cseq[0]:  # the call itself never got its ACK
                    self.bye(call)
                    self.listener.ended(call, "no ACK for our 200 OK", 408)
                return
            self.layer.retransmissions += 1
            self.send(response, call.peer)
            interval = min(interval * 2, self.timers.t2)
            self.layer.later(interval, resend)

        self.layer.later(interval, resend)

    def _stop_ok(self, call: SipCall) -> None:
        call.ok = None

    def _ack_received(self, ack: SipMessage) -> None:
        call = self.calls.get((ack.call_id, ack.to_tag))
        if call is None or call.ok is None or ack.cseq[0] != call.ok_cseq:
            return
        call.ok = None
        if call.ok_sent_offer and ack.body:
            call.ok_sent_offer = False
            with contextlib.suppress(sdp.SdpError, ValueError):
                self.listener.reanswered(call, sdp.parse(ack.body))

    def _cancel_received(self, cancel: SipMessage, transaction: object) -> None:
        via = cancel.top_via
        invite_tx = self.layer.invite_server(via.branch, via.host, via.port)
        if invite_tx is None:
            transaction.respond(self._response(cancel, 481))
            return
        transaction.respond(self._response(cancel, 200))
        call = next(
            (c for c in self.calls.values() if c.server_tx is invite_tx and c.state == "early"),
            None,
        )
        if call is None:
            return  # already answered: the CANCEL has no effect
        call.state, call.final_status = "ended", 487
        invite_tx.respond(self._response(call.invite, 487, call.local_tag))
        self.calls.pop((call.call_id, call.local_tag), None)
        self.listener.failed(call, 487, "the caller cancelled")

    def _in_dialog_request(self, call: SipCall, request: SipMessage, transaction: object) -> None:
        dialog = call.dialog
        number = request.cseq[0]
        if dialog.remote_cseq is not None and number <= dialog.remote_cseq:
            transaction.respond(self._response(request, 500))
            return
        dialog.remote_cseq = number
        method = request.method
        if method == "BYE":
            transaction.respond(self._response(request, 200))
            call.state = "ended"
            self._stop_ok(call)
            self.calls.pop((call.call_id, call.local_tag), None)
            self.listener.ended(call, "the remote party hung up", 200)
        elif method in ("INVITE", "UPDATE"):
            offer = None
            if request.body:
                try:
                    offer = sdp.parse(request.body)
                except (sdp.SdpError, ValueError):
                    transaction.respond(self._response(request, 488))
                    return
            if contact := request.headers.get("Contact"):
                dialog.remote_target = NameAddr.parse(contact).uri
            body = self.listener.reoffer(call, offer)
            response = self._capabilities(self._with_contact(self._response(request, 200)))
            _session_timer(request, response)
            if method == "INVITE" or offer is not None:
                response.headers.add("Content-Type", "application/sdp")
                response.body = body
            transaction.respond(response)
            if method == "INVITE":
                call.ok_sent_offer = offer is None
                self._send_ok(call, response, number)
        elif method == "INFO":
            transaction.respond(self._response(request, 200))
            key = _dtmf_relay(request)
            if key:
                self.listener.info_digit(call, key)
        elif method == "OPTIONS":
            transaction.respond(self._capabilities(self._response(request, 200)))
        else:
            transaction.respond(self._capabilities(self._response(request, 405)))


def _session_timer(request: SipMessage, response: SipMessage) -> None:
    """Echo a session timer the peer requires (RFC 4028); they refresh, we answer."""
    expires = request.headers.get("Session-Expires")
    if expires and "timer" in [v.lower() for v in request.headers.get_all("Require")]:
        seconds = expires.split(";")[0].strip()
        response.headers.add("Session-Expires", f"{seconds};refresher=uac")
        response.headers.add("Require", "timer")


def _dtmf_relay(request: SipMessage) -> str | None:
    """The key in an INFO application/dtmf-relay body ("Signal=5")."""
    if "dtmf" not in (request.headers.get("Content-Type") or "").lower():
        return None
    for line in request.body.decode(errors="replace").splitlines():
        name, _, value = line.partition("=")
        if name.strip().lower() == "signal" and value.strip():
            key = value.strip().upper()[:1]
            return key if key in "0123456789*#ABCD" else None
    return None
