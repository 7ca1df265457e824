"""Outbound HTTP to tenant-supplied URLs, defended against SSRF.

Every URL a tenant gives us (callback URIs, event webhooks, play-source files) could
point at our own network. So we: accept only http(s); resolve the host ourselves; vet
every address it resolves to (no loopback, private, link-local, CGNAT, multicast,
unspecified or reserved ranges, IPv4-mapped IPv6 judged by its IPv4, and never the
cloud metadata addresses); then connect to the vetted address itself, so a second DNS
answer cannot swap in another (no DNS rebinding); and never follow redirects.

OUTBOUND_ALLOWLIST (CIDRs) lets development reach loopback and test hosts; it can
never open the metadata addresses.
"""

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata endpoints: refused whatever the allowlist says.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeUrl(ValueError):
    """The URL may not be fetched: bad scheme, unresolvable, or a forbidden address."""


@dataclass(frozen=True)
class Vetted:
    url: str
    host: str
    address: IPAddress


def _allowlist() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in settings.OUTBOUND_ALLOWLIST]


def _forbidden_reason(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA:
        return "a cloud metadata address"
    if any(address in network for network in _allowlist()):
        return None
    checks = [
        (address.is_loopback, "a loopback address"),
        (address.is_private, "a private address"),
        (address.is_link_local, "a link-local address"),
        (address.version == 4 and address in CGNAT, "a carrier-grade NAT address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_reserved, "a reserved address"),
    ]
    return next((reason for hit, reason in checks if hit), None)


class Unresolvable(UnsafeUrl):
    """The host does not resolve (now): nothing can be sent to it."""


def vet(url: str) -> Vetted:
    """Resolve `url`'s host and return the address to connect to. Raises UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl(f"The URL is malformed ({exc}).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("Only absolute http(s) URLs are allowed.")
    try:
        # getaddrinfo also reads "2130706433" and "0177.0.0.1" the way a client would,
        # so those spellings of 127.0.0.1 are judged by the address they really mean.
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"The host {parts.hostname!r} does not resolve ({exc}).") from None
    addresses = list(
        dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos)
    )
    for address in addresses:
        reason = _forbidden_reason(address)
        if reason:
            raise UnsafeUrl(f"{parts.hostname} resolves to {address}, {reason}.")
    return Vetted(url=url, host=parts.hostname, address=addresses[0])


def check(url: str) -> None:
    """Refuse, at the time a URL is given to us, one that resolves to a forbidden address.

    A host that does not resolve yet is let through: DNS may catch up before we send,
    and `request()` vets it again then. Raises UnsafeUrl.
    """
    with contextlib.suppress(Unresolvable):
        vet(url)


def pin(url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """Vet `url` and return (the URL with the vetted IP as host, headers, extensions) to
    send it with: `Host` keeps the name, and TLS checks the certificate against it (SNI).
    Raises UnsafeUrl."""
    target = vet(url)
    parts = urlsplit(url)
    literal = str(target.address)
    host = f"[{literal}]" if target.address.version == 6 else literal
    netloc = f"{host}:{parts.port}" if parts.port else host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
    extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
    return pinned, headers, extensions


def request(
    method: str,
    url: str,
    *,
    timeout: httpx.Timeout,
    client: httpx.Client | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request to `url` through the SSRF guard, to the vetted address only.

    Raises UnsafeUrl before any connection is made, or httpx errors from the exchange.
    Redirects are returned as they are, never followed.
    """
    pinned, host_header, extensions = pin(url)
    headers = {**kwargs.pop("headers", {}), **host_header}
    own = client is None
    client = client or httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        return client.request(
            method, pinned, headers=headers, extensions=extensions, timeout=timeout,
            follow_redirects=False, **kwargs,
        )  # fmt: skip
    finally:
        if own:
            client.close()
