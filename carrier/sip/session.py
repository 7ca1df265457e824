"""One leg's SIP state (`SipCall`) and what the user agent tells its owner (`Listener`).

Shared by the user agent's parts (ua, uas, registration) and the driver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from carrier.sip import sdp
from carrier.sip.dialog import Dialog
from carrier.sip.message import SipMessage
from carrier.sip.transaction import Addr

REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 500: "Server Internal Error",
    503: "Service Unavailable", 603: "Decline",
}  # fmt: skip


class Listener(Protocol):
    """What the user agent tells the driver (all on the SIP loop)."""

    def incoming(self, call: SipCall, offer: sdp.Session) -> None: ...
    def progress(self, call: SipCall, status: int, session: sdp.Session | None) -> None: ...
    def answered(self, call: SipCall, session: sdp.Session | None) -> None: ...
    def failed(self, call: SipCall, status: int, reason: str) -> None: ...
    def ended(self, call: SipCall, reason: str, status: int) -> None: ...
    def reoffer(self, call: SipCall, offer: sdp.Session | None) -> bytes: ...
    def reanswered(self, call: SipCall, session: sdp.Session) -> None: ...
    def info_digit(self, call: SipCall, key: str) -> None: ...


@dataclass
class SipCall:
    """One leg's signalling state."""

    leg_id: str
    outbound: bool
    invite: SipMessage
    peer: Addr
    local_tag: str
    state: str = "calling"  # calling, early, confirmed, ended
    dialog: Dialog | None = None
    server_tx: object | None = None
    provisional: bool = False
    cancel: str | None = None  # why we cancel: "timeout" | "hang_up"
    auth_tries: int = 0
    ok: SipMessage | None = None  # our 2xx, resent until ACKed
    ok_cseq: int = 0
    ok_sent_offer: bool = False
    started: float = field(default_factory=time.monotonic)
    answered_at: float | None = None
    final_status: int = 0

    @property
    def call_id(self) -> str:
        return self.invite.call_id
