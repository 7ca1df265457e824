"""HTTP digest authentication as SIP uses it (RFC 3261 §22, RFC 2617): MD5, qop=auth.

Trunks challenge INVITE and REGISTER with 401 (WWW-Authenticate) or 407
(Proxy-Authenticate); we answer once per challenge with Authorization or
Proxy-Authorization. MD5 is what every SIP trunk offers; we do not claim more.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass


class DigestError(ValueError):
    """A challenge we cannot answer (another scheme, algorithm or qop)."""


@dataclass
class Challenge:
    realm: str
    nonce: str
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: list[str] | None = None
    stale: bool = False

    @classmethod
    def parse(cls, header: str) -> Challenge:
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "digest":
            raise DigestError(f"unsupported authentication scheme {scheme!r}")
        params = parse_auth_params(rest)
        if "nonce" not in params:
            raise DigestError("a digest challenge without a nonce")
        algorithm = params.get("algorithm", "MD5")
        if algorithm.upper() != "MD5":
            raise DigestError(f"unsupported digest algorithm {algorithm!r}")
        qop = [q.strip().lower() for q in params["qop"].split(",")] if "qop" in params else None
        if qop is not None and "auth" not in qop:
            raise DigestError(f"unsupported qop {params['qop']!r}")
        return cls(
            realm=params.get("realm", ""),
            nonce=params["nonce"],
            opaque=params.get("opaque"),
            algorithm=algorithm,
            qop=qop,
            stale=params.get("stale", "").lower() == "true",
        )


def parse_auth_params(text: str) -> dict[str, str]:
    """`realm="a, b", nonce=xyz` -> {"realm": "a, b", "nonce": "xyz"} (names lower-case)."""
    params: dict[str, str] = {}
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index] in " ,\t":
            index += 1
        eq = text.find("=", index)
        if eq < 0:
            break
        name = text[index:eq].strip().lower()
        index = eq + 1
        while index < length and text[index] == " ":
            index += 1
        if index < length and text[index] == '"':
            end = index + 1
            value = []
            while end < length and text[end] != '"':
                if text[end] == "\\" and end + 1 < length:
                    end += 1
                value.append(text[end])
                end += 1
            params[name] = "".join(value)
            index = end + 1
        else:
            end = text.find(",", index)
            end = length if end < 0 else end
            params[name] = text[index:end].strip()
            index = end
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def response(
    challenge: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str = "",
    nc: int = 1,
) -> str:
    """The request-digest (RFC 2617 §3.2.2.1)."""
    ha1 = _md5(f"{username}:{challenge.realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if challenge.qop:
        return _md5(f"{ha1}:{challenge.nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    return _md5(f"{ha1}:{challenge.nonce}:{ha2}")


def authorization(
    challenge: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The Authorization / Proxy-Authorization header value answering `challenge`."""
    cnonce = cnonce or secrets.token_hex(8)
    digest = response(
        challenge,
        username=username,
        password=password,
        method=method,
        uri=uri,
        cnonce=cnonce,
        nc=nc,
    )
    parts = [
        f'username="{username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
        f'response="{digest}"',
        "algorithm=MD5",
    ]
    if challenge.opaque is not None:
        parts.append(f'opaque="{challenge.opaque}"')
    if challenge.qop:
        parts += ["qop=auth", f"nc={nc:08x}", f'cnonce="{cnonce}"']
    return "Digest " + ", ".join(parts)
