"""A SIP dialog (RFC 3261 §12): the state two user agents share for one call leg, and
how requests inside it are addressed (remote target, route set, loose or strict routing).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from carrier.sip.message import NameAddr, SipMessage, Uri, Via
from carrier.sip.transaction import Addr, new_branch

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"
SUPPORTED = "timer"


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


@dataclass
class Dialog:
    call_id: str
    local: NameAddr  # our From (as UAC) or To (as UAS), with our tag
    remote: NameAddr  # theirs, with their tag
    remote_target: Uri  # their Contact
    route_set: list[str] = field(default_factory=list)
    local_cseq: int = 1
    remote_cseq: int | None = None

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str:
        return self.remote.tag or ""

    @classmethod
    def as_uac(cls, request: SipMessage, response: SipMessage) -> Dialog:
        """The dialog a 2xx (or 1xx with a tag) to our INVITE creates (§12.1.2)."""
        contact = response.headers.get("Contact")
        target = NameAddr.parse(contact).uri if contact else Uri.parse(request.uri)
        routes = list(reversed(response.headers.get_all("Record-Route")))
        return cls(
            call_id=request.call_id,
            local=request.addr("From"),
            remote=response.addr("To"),
            remote_target=target,
            route_set=routes,
            local_cseq=request.cseq[0],
        )

    @classmethod
    def as_uas(cls, request: SipMessage, local_tag: str) -> Dialog:
        """The dialog our answer to an INVITE creates (§12.1.1)."""
        local = request.addr("To")
        local.params["tag"] = local_tag
        contact = request.headers.get("Contact")
        target = NameAddr.parse(contact).uri if contact else request.addr("From").uri
        return cls(
            call_id=request.call_id,
            local=local,
            remote=request.addr("From"),
            remote_target=target,
            route_set=list(request.headers.get_all("Record-Route")),
            local_cseq=0,
            remote_cseq=request.cseq[0],
        )

    def next_hop(self) -> Addr:
        if self.route_set:
            return NameAddr.parse(self.route_set[0]).uri.hostport
        return self.remote_target.hostport

    def request(
        self,
        method: str,
        *,
        via_host: str,
        via_port: int,
        contact: str,
        cseq: int | None = None,
    ) -> SipMessage:
        """A request inside the dialog; CSeq advances unless given (ACK reuses INVITE's)."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        uri, routes = str(self.remote_target), list(self.route_set)
        if routes and "lr" not in NameAddr.parse(routes[0]).uri.params:
            # Strict routing (RFC 2543 proxies): the first route becomes the Request-URI.
            uri = str(NameAddr.parse(routes[0]).uri)
            routes = [*routes[1:], f"<{self.remote_target}>"]
        message = SipMessage(method=method, uri=uri)
        via = Via("UDP", via_host, via_port, {"branch": new_branch(), "rport": None})
        message.headers.add("Via", str(via))
        message.headers.add("Max-Forwards", "70")
        for route in routes:
            message.headers.add("Route", route)
        message.headers.add("From", str(self.local))
        message.headers.add("To", str(self.remote))
        message.headers.add("Call-ID", self.call_id)
        message.headers.add("CSeq", f"{cseq} {method}")
        if method not in ("ACK", "CANCEL", "BYE"):
            message.headers.add("Contact", contact)
        return message


def response_to(request: SipMessage, status: int, reason: str, *, to_tag: str = "") -> SipMessage:
    """A response copying Via, From, To (+ our tag), Call-ID, CSeq (§8.2.6)."""
    response = SipMessage(status=status, reason=reason)
    for via in request.headers.get_all("Via"):
        response.headers.add("Via", via)
    if status > 100:
        for route in request.headers.get_all("Record-Route"):
            response.headers.add("Record-Route", route)
    response.headers.add("From", request.headers.get("From") or "")
    to = request.addr("To")
    if to_tag and not to.tag and status > 100:
        to.params["tag"] = to_tag
        response.headers.add("To", str(to))
    else:
        response.headers.add("To", request.headers.get("To") or "")
    response.headers.add("Call-ID", request.call_id)
    response.headers.add("CSeq", request.headers.get("CSeq") or "")
    return response
