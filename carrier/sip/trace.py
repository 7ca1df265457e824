"""A per-call SIP message trace: every message we sent or received, for the ladder diagram.

Keyed by Call-ID (a leg's SIP identity). Each entry keeps the time, direction, the peer's
address, the first line and the headers, which is what Twilio's SIP debugger and Homer
show; bodies are summarised by length (SDP is in the headers' Content-Type and the
media figures). Bounded per call so a looping peer cannot grow memory without limit.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from carrier.sip.message import SipMessage

MAX_ENTRIES = 300  # per call
MAX_CALLS = 5000  # kept at once; the oldest finished calls go first


class TraceBook:
    def __init__(self) -> None:
        self._calls: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def record(self, direction: str, peer: tuple[str, int], message: SipMessage) -> None:
        """Note a message; `direction` is "out" or "in"."""
        call_id = message.call_id
        entries = self._calls.get(call_id)
        if entries is None:
            entries = self._calls[call_id] = []
            while len(self._calls) > MAX_CALLS:
                self._calls.popitem(last=False)
        if len(entries) >= MAX_ENTRIES:
            return
        entries.append(
            {
                "at": time.time(),
                "direction": direction,
                "peer": f"{peer[0]}:{peer[1]}",
                "first_line": message.first_line,
                "headers": [[name, value] for name, value in message.headers],
                "body_length": len(message.body),
                "body": message.body.decode(errors="replace") if message.body else "",
            }
        )

    def entries(self, call_id: str) -> list[dict[str, Any]]:
        return list(self._calls.get(call_id, ()))

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
