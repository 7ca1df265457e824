"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264): G.711 and telephone-event.

We only ever carry one `m=audio` line with PCMU (0) and/or PCMA (8), plus RFC 4733
telephone-event at whatever payload type the peer chose. Direction attributes carry hold:
sendonly/inactive from the holding side, recvonly/inactive in the answer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

CODECS = {"PCMU": 0, "PCMA": 8}
CODEC_NAMES = {pt: name for name, pt in CODECS.items()}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
# What the answerer says to each offered direction (RFC 3264 §6.1).
ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
DEFAULT_TE_PT = 101
_versions = itertools.count(1)


class SdpError(ValueError):
    """An SDP body we cannot use (no audio, no codec in common)."""


@dataclass
class Session:
    """The audio part of a session description, as offered or answered."""

    address: str
    port: int
    payload_types: list[int]
    te_pt: int | None = None
    direction: str = "sendrecv"
    ptime: int | None = None
    rtcp_port: int | None = None
    rtpmap: dict[int, str] = field(default_factory=dict)

    @property
    def codec(self) -> int:
        """The first audio codec listed that we can speak."""
        for pt in self.payload_types:
            if pt in CODEC_NAMES:
                return pt
        raise SdpError("no G.711 codec (PCMU or PCMA) in the session description")


def parse(body: bytes | str) -> Session:
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    session_address, media_address = "", ""
    port, pts, in_audio, seen_audio = 0, [], False, False
    attributes: list[str] = []
    direction = "sendrecv"
    for raw in text.splitlines():
        line = raw.strip()
        kind, eq, value = line.partition("=")
        if not eq:
            continue
        if kind == "c":
            address = value.split()[-1].split("/")[0]
            if in_audio:
                media_address = address
            elif not seen_audio:
                session_address = address
        elif kind == "m":
            in_audio = False
            fields = value.split()
            if fields[0] == "audio" and not seen_audio and len(fields) >= 3:
                in_audio = seen_audio = True
                port = int(fields[1].split("/")[0])
                pts = [int(pt) for pt in fields[3:] if pt.isdigit()]
        elif kind == "a":
            if value in DIRECTIONS and (in_audio or not seen_audio):
                direction = value
            elif in_audio:
                attributes.append(value)
    if not seen_audio:
        raise SdpError("no audio stream in the session description")
    session = Session(media_address or session_address, port, pts, direction=direction)
    for attribute in attributes:
        name, _, rest = attribute.partition(":")
        if name == "rtpmap":
            pt_text, _, encoding = rest.partition(" ")
            if pt_text.isdigit():
                pt = int(pt_text)
                session.rtpmap[pt] = encoding
                if encoding.lower().startswith("telephone-event/8000") and pt in pts:
                    session.te_pt = pt
        elif name == "ptime" and rest.strip().isdigit():
            session.ptime = int(rest)
        elif name == "rtcp" and rest.split()[0].isdigit():
            session.rtcp_port = int(rest.split()[0])
    # Static types may come without rtpmap; a dynamic type named PCMU/PCMA is the codec.
    for pt, encoding in session.rtpmap.items():
        name = encoding.split("/")[0].upper()
        if name in CODECS and pt not in CODEC_NAMES and pt in pts:
            pts[pts.index(pt)] = CODECS[name]
    return session


def build(
    *,
    address: str,
    port: int,
    payload_types: list[int],
    te_pt: int | None,
    direction: str = "sendrecv",
    session_id: int = 0,
    version: int | None = None,
    ptime: int = 20,
) -> bytes:
    """An SDP body offering or answering `payload_types` (+ telephone-event) on one port."""
    version = next(_versions) if version is None else version
    family = "IP6" if ":" in address else "IP4"
    pts = [*payload_types, *([te_pt] if te_pt is not None else [])]
    lines = [
        "v=0",
        f"o=callauto {session_id or version} {version} IN {family} {address}",
        "s=callauto",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in pts)}",
    ]
    lines += [f"a=rtpmap:{pt} {CODEC_NAMES[pt]}/8000" for pt in payload_types]
    if te_pt is not None:
        lines += [f"a=rtpmap:{te_pt} telephone-event/8000", f"a=fmtp:{te_pt} 0-16"]
    lines += [f"a=ptime:{ptime}", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def answer_codec(offer: Session, preference: list[int]) -> int:
    """The codec to answer with: our preference order among what the offer lists."""
    for pt in preference:
        if pt in offer.payload_types:
            return pt
    raise SdpError(f"no codec in common: offered {offer.payload_types}, we speak {preference}")
