"""SIP messages (RFC 3261 §7, §19, §20, §25): parse what trunks send, build what we send.

Trunks and PBXs differ in what the grammar allows them: compact header names (`v:`, `i:`),
several values in one header line or one per line, any case in names and parameters,
folded lines, spaces around `:` and `/`. The parser accepts all of that and the model keeps
header order, because Via and Record-Route order carry meaning. We always build the long
forms, one value per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

SIP_VERSION = "SIP/2.0"

COMPACT = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}
_KNOWN = (
    "Accept", "Alert-Info", "Allow", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Length", "Content-Type", "CSeq", "Date", "Diversion",
    "Expires", "From", "Max-Forwards", "Min-Expires", "Min-SE", "P-Asserted-Identity",
    "P-Preferred-Identity", "Privacy", "Proxy-Authenticate", "Proxy-Authorization",
    "Proxy-Require", "RAck", "Reason", "Record-Route", "Remote-Party-ID", "Require",
    "Retry-After", "Route", "RSeq", "Server", "Session-Expires", "Subject", "Supported",
    "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
)  # fmt: skip
_CANONICAL = {name.lower(): name for name in (*_KNOWN, *COMPACT.values())}
# Headers whose grammar is a comma-separated list: one line may carry several values.
MULTI = frozenset(
    name.lower()
    for name in (
        "Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require",
        "Proxy-Require", "Unsupported", "Accept", "Allow-Events", "P-Asserted-Identity",
        "Diversion",
    )
)  # fmt: skip


class SipParseError(ValueError):
    """The bytes are not a SIP message we can read."""


def canonical(name: str) -> str:
    """The long, conventionally spelled form of a header name (any case, compact or not)."""
    name = name.strip()
    lower = name.lower()
    if lower in COMPACT:
        return COMPACT[lower]
    if lower.startswith("x-ms-"):  # ACS's custom headers: X-MS-Custom-<name>
        return "X-MS-" + "-".join(part.capitalize() for part in lower[5:].split("-"))
    return _CANONICAL.get(lower) or "-".join(part.capitalize() for part in lower.split("-"))


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, leaving commas inside quotes and <> alone."""
    parts, depth, quoted, start = [], 0, False, 0
    index = 0
    while index < len(value):
        char = value[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "<":
            depth += 1
        elif char == ">":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append(value[start:index].strip())
            start = index + 1
        index += 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def parse_params(text: str) -> dict[str, str | None]:
    """`;a=1;B;c="x;y"` -> {"a": "1", "b": None, "c": '"x;y"'} (names lower-cased)."""
    params: dict[str, str | None] = {}
    for item in _split_semicolons(text):
        name, eq, value = item.partition("=")
        if name.strip():
            params[name.strip().lower()] = value.strip() if eq else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _split_semicolons(text: str) -> list[str]:
    out, quoted, current = [], False, []
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return [item.strip() for item in out if item.strip()]


@dataclass
class Uri:
    """sip:user:password@host:port;params?headers (host keeps IPv6 brackets)."""

    host: str
    user: str = ""
    port: int | None = None
    scheme: str = "sip"
    password: str = ""
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str = ""

    @classmethod
    def parse(cls, text: str) -> Uri:
        text = text.strip()
        scheme, colon, rest = text.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips", "tel"):
            raise SipParseError(f"not a SIP URI: {text!r}")
        rest, _, headers = rest.partition("?")
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            hostpart, userinfo = rest, ""
        hostport, _, params = hostpart.partition(";")
        user, _, password = userinfo.partition(":")
        if hostport.startswith("["):
            host, _, after = hostport.partition("]")
            host += "]"
            port_text = after.removeprefix(":")
        else:
            host, _, port_text = hostport.partition(":")
        if not host:
            raise SipParseError(f"SIP URI without a host: {text!r}")
        try:
            port = int(port_text) if port_text else None
        except ValueError as exc:
            raise SipParseError(f"bad port in {text!r}") from exc
        return cls(host, user, port, scheme.lower(), password, parse_params(params), headers)

    def __str__(self) -> str:
        userinfo = self.user + (f":{self.password}" if self.password else "")
        out = f"{self.scheme}:{userinfo + '@' if userinfo else ''}{self.host}"
        if self.port:
            out += f":{self.port}"
        out += format_params(self.params)
        return out + (f"?{self.headers}" if self.headers else "")

    @property
    def hostport(self) -> tuple[str, int]:
        return self.host.strip("[]"), self.port or 5060


@dataclass
class NameAddr:
    """A From/To/Contact/Route value: optional display name, URI, header parameters."""

    uri: Uri
    display: str = ""
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if "<" in text:
            before, _, after = text.partition("<")
            uri_text, close, params = after.partition(">")
            if not close:
                raise SipParseError(f"unclosed <> in {text!r}")
            display = before.strip()
            if display.startswith('"') and display.endswith('"') and len(display) >= 2:
                display = display[1:-1].replace('\\"', '"')
            return cls(Uri.parse(uri_text), display, parse_params(params))
        # addr-spec: parameters after the URI belong to the header, not the URI.
        uri_text, _, params = text.partition(";")
        return cls(Uri.parse(uri_text), "", parse_params(params))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


_VIA = re.compile(r"^\s*SIP\s*/\s*2\.0\s*/\s*([A-Za-z]+)\s+([^;\s]+)\s*(.*)$", re.S)


@dataclass
class Via:
    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        match = _VIA.match(text)
        if not match:
            raise SipParseError(f"bad Via: {text!r}")
        transport, sent_by, params = match.groups()
        if sent_by.startswith("["):
            host, _, port_text = sent_by.partition("]")
            host, port_text = host + "]", port_text.removeprefix(":")
        else:
            host, _, port_text = sent_by.partition(":")
        port = int(port_text) if port_text.isdigit() else None
        return cls(transport.upper(), host, port, parse_params(params))

    @property
    def branch(self) -> str:
        return self.params.get("branch") or ""

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"


class Headers:
    """Header lines in order, names canonical; list headers may hold several values."""

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = [(canonical(n), v) for n, v in items or []]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __contains__(self, name: str) -> bool:
        key = canonical(name)
        return any(n == key for n, _ in self._items)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.get_all(name)
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every value of `name`, list headers split at their commas, in order."""
        key = canonical(name)
        values = [v for n, v in self._items if n == key]
        if key.lower() in MULTI:
            return [part for value in values for part in split_list(value)]
        return values

    def add(self, name: str, value: str) -> None:
        self._items.append((canonical(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every line of `name` by one, where the first one was (or at the end)."""
        key = canonical(name)
        for index, (n, _) in enumerate(self._items):
            if n == key:
                self._items[index] = (key, value)
                self._items = [
                    item for i, item in enumerate(self._items) if i <= index or item[0] != key
                ]
                return
        self._items.append((key, value))

    def remove(self, name: str) -> None:
        key = canonical(name)
        self._items = [item for item in self._items if item[0] != key]

    def copy(self) -> Headers:
        return Headers(list(self._items))


@dataclass
class SipMessage:
    """A request (method and uri set) or a response (status set)."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    @property
    def first_line(self) -> str:
        if self.is_request:
            return f"{self.method} {self.uri} {SIP_VERSION}"
        return f"{SIP_VERSION} {self.status} {self.reason}"

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.headers.get("CSeq") or "").strip().partition(" ")
        try:
            return int(number), method.strip().upper()
        except ValueError as exc:
            raise SipParseError(f"bad CSeq {self.headers.get('CSeq')!r}") from exc

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(value) for value in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        vias = self.vias
        if not vias:
            raise SipParseError("no Via")
        return vias[0]

    def addr(self, name: str) -> NameAddr:
        value = self.headers.get(name)
        if value is None:
            raise SipParseError(f"no {name}")
        return NameAddr.parse(value)

    @property
    def from_tag(self) -> str:
        return self.addr("From").tag or ""

    @property
    def to_tag(self) -> str:
        return self.addr("To").tag or ""

    def encode(self) -> bytes:
        lines = [self.first_line]
        lines += [f"{name}: {value}" for name, value in self.headers if name != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


_STATUS = re.compile(r"^SIP\s*/\s*2\.0\s+(\d{3})\s*(.*)$", re.I)
_REQUEST = re.compile(r"^([A-Za-z]+)\s+(\S+)\s+SIP\s*/\s*2\.0$", re.I)


def parse(data: bytes) -> SipMessage:
    """Parse one datagram. Raises SipParseError for anything that is not SIP."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    text = head.decode("utf-8", errors="replace").lstrip("\r\n")
    raw_lines = text.replace("\r\n", "\n").split("\n")
    if not raw_lines or not raw_lines[0].strip():
        raise SipParseError("empty message")
    first = raw_lines[0].strip()
    message = SipMessage()
    if status := _STATUS.match(first):
        message.status, message.reason = int(status.group(1)), status.group(2).strip()
    elif request := _REQUEST.match(first):
        message.method, message.uri = request.group(1).upper(), request.group(2)
    else:
        raise SipParseError(f"not a SIP start line: {first[:80]!r}")
    lines: list[str] = []
    for line in raw_lines[1:]:
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()  # folded continuation line
        elif line.strip():
            lines.append(line)
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise SipParseError(f"bad header line {line[:80]!r}")
        message.headers.add(name, value.strip())
    length = message.headers.get("Content-Length")
    if length is not None and length.strip().isdigit():
        body = body[: int(length)]
    message.body = body
    for required in ("Call-ID", "CSeq", "From", "To", "Via"):
        if required not in message.headers:
            raise SipParseError(f"missing {required}")
    message.cseq  # noqa: B018 - validates it
    return message
