"""Out-of-dialog requests we send: OPTIONS pings and REGISTER with refresh (RFC 3261 §10).

A trunk that wants registration gets our Contact for `register_expires`; we refresh at
80 % of what it granted. A registrar that finds that too brief answers 423 with its
Min-Expires: we ask again at once for that long (§10.2.8), and keep asking for it.
Results are kept for the trunk's live status (phase 2 shows them on the portal).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from carrier.sip.dialog import new_call_id, new_tag
from carrier.sip.message import NameAddr, SipMessage, SipParseError, Uri


class OutOfDialog:
    """Mixed into UserAgent."""

    config: Any
    loop: Any
    registration: dict[str, object]
    last_ping: dict[str, object]

    # --- out of dialog: pings and registration ---
    def options(self) -> asyncio.Future:
        """Ping the trunk; the future gives (status, round trip in ms)."""
        future = self.loop.create_future()
        request = self._plain("OPTIONS", self._uri(""), self.config.username or "callauto")
        request.headers.add("Accept", "application/sdp")
        started = time.monotonic()

        def done(response: SipMessage) -> None:
            rtt = (time.monotonic() - started) * 1000
            self.last_ping = {"status": response.status, "rtt_ms": round(rtt, 2), "at": time.time()}
            if not future.done():
                future.set_result((response.status, rtt))

        self._request_with_auth(request, self.proxy, done)
        return future

    def _plain(
        self, method: str, uri: Uri, user: str, call_id: str = "", cseq: int = 1
    ) -> SipMessage:
        request = SipMessage(method=method, uri=str(uri))
        request.headers.add("Via", self._via())
        request.headers.add("Max-Forwards", "70")
        aor = NameAddr(self._uri(user))
        request.headers.add("From", str(NameAddr(aor.uri, "", {"tag": new_tag()})))
        request.headers.add("To", str(aor))
        request.headers.add("Call-ID", call_id or new_call_id(self.config.contact_host))
        request.headers.add("CSeq", f"{cseq} {method}")
        request.headers.add("User-Agent", self.config.user_agent)
        return request

    def register(self) -> None:
        """REGISTER our Contact for the trunk user; refresh before it expires."""
        if not self._register_call_id:
            self._register_call_id = new_call_id(self.config.contact_host)
        self._register_cseq += 1
        domain = Uri(self.config.sip_domain, "", self._uri("").port)
        request = self._plain(
            "REGISTER", domain, self.config.username, self._register_call_id, self._register_cseq
        )
        asked = max(self.config.register_expires, getattr(self, "_min_expires", 0))
        request.headers.add("Contact", self.contact)
        request.headers.add("Expires", str(asked))
        started = time.monotonic()

        def done(response: SipMessage) -> None:
            self._register_cseq = max(self._register_cseq, response.cseq[0])
            rtt = round((time.monotonic() - started) * 1000, 2)
            minimum = _min_expires(response) if response.status == 423 else 0
            if minimum > asked:
                self._min_expires = minimum  # once more, for as long as it wants
                self.register()
                return
            if 200 <= response.status < 300:
                expires = _granted_expiry(response, asked)
                self.registration = {
                    "state": "registered",
                    "status": response.status,
                    "expires": expires,
                    "rtt_ms": rtt,
                    "at": time.time(),
                }
                refresh = max(expires * 0.8, min(expires, 1.0) * 0.5)
            else:
                self.registration = {
                    "state": "failed",
                    "status": response.status,
                    "reason": response.reason,
                    "at": time.time(),
                }
                refresh = 60.0
            self._register_timer = self.loop.call_later(refresh, self.register)

        self._request_with_auth(request, self.proxy, done)


def _min_expires(response: SipMessage) -> int:
    value = (response.headers.get("Min-Expires") or "").strip()
    return int(value) if value.isdigit() else 0


def _granted_expiry(response: SipMessage, asked: int) -> int:
    for contact in response.headers.get_all("Contact"):
        with contextlib.suppress(SipParseError, ValueError, TypeError):
            value = NameAddr.parse(contact).params.get("expires")
            if value:
                return int(value)
    header = response.headers.get("Expires")
    return int(header) if header and header.strip().isdigit() else asked
