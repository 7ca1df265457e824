"""ACS HMAC-SHA256 request authentication (ACS-WIRE.md §2), as a DRF authentication class.

The client signs three lines: the method, the request target exactly as sent (still
percent-encoded, with the query), and `x-ms-date;host;x-ms-content-sha256`. We check
the body hash against the raw bytes, the date against our clock, and the signature
against both of the tenant's keys in constant time.

The `host` the SDK signs is its endpoint minus the scheme. Our endpoints carry the
tenant's path (`https://host:port/t/<slug>`), so the SDK signs `host:port/t/<slug>`;
we rebuild that from the Host header Django has already checked against ALLOWED_HOSTS.
"""

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.http import HttpRequest
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tenants import crypto
from tenants.models import AccessKey, Tenant

AUTHORIZATION = re.compile(r"^HMAC-SHA256 SignedHeaders=(?P<headers>[^&]+)&Signature=(?P<sig>.+)$")
REQUIRED_SIGNED_HEADERS = {"x-ms-date", "host", "x-ms-content-sha256"}


class HmacFailed(exceptions.AuthenticationFailed):
    """401 in the shape the real service uses (code 7509), never with Retry-After."""

    default_code = "7509"


@dataclass(frozen=True)
class KeyPrincipal:
    """The authenticated caller of an HMAC request: a tenant's access key."""

    tenant: Tenant
    key_name: str
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def label(self) -> str:
        return f"access key ({self.key_name})"


def raw_request_target(request: HttpRequest) -> str:
    """The path and query exactly as the client sent them.

    Django only keeps the decoded path, and re-encoding it does not give back what
    the SDK signed (`4%3A%2B1` would come back as `4:+1`). gunicorn passes the raw
    target as RAW_URI, uWSGI and others as REQUEST_URI; our test server adds RAW_URI too.
    """
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI")
    if raw:
        if raw.startswith(("http://", "https://")):  # absolute-form target
            raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
        return raw
    return request.get_full_path()


@functools.lru_cache(maxsize=1024)
def key_bytes(key_id: int, encrypted: str) -> bytes:
    """A key's secret, decrypted once per process. Keyed on the ciphertext, which changes
    when the key is regenerated; the rows themselves are read on every request."""
    return base64.b64decode(crypto.decrypt(encrypted))


def sign(secret: bytes, message: str) -> str:
    return base64.b64encode(hmac.new(secret, message.encode(), hashlib.sha256).digest()).decode()


def body_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def signed_host_candidates(request: HttpRequest, tenant: Tenant) -> list[str]:
    """The `host` values a legitimate client of this tenant may have signed.

    Normally the Host header plus the tenant path. Recording downloads go to a
    separate host and carry `x-ms-host` (the ACS endpoint's hostname, no port) while
    the signature still covers the endpoint's host:port, hence the extra candidates.
    """
    host = request.get_host()  # raises DisallowedHost (400) for hosts we do not serve
    suffix = f"/t/{tenant.slug}"
    candidates = [host + suffix]
    ms_host = request.headers.get("x-ms-host")
    if ms_host:
        port = host.rsplit(":", 1)[1] if host.count(":") == 1 else None
        if port:
            candidates.append(f"{ms_host}:{port}{suffix}")
        candidates.append(ms_host + suffix)
    return candidates


class AcsHmacAuthentication(authentication.BaseAuthentication):
    def authenticate_header(self, request: Request) -> str:
        # DRF answers 401 (not 403) only when there is a challenge to send.
        return "HMAC-SHA256"

    def authenticate(self, request: Request) -> tuple[KeyPrincipal, AccessKey]:
        django_request = request._request
        tenant: Tenant | None = getattr(django_request, "tenant", None)
        if tenant is None:
            raise HmacFailed("This API is only served under a tenant endpoint (/t/<slug>/).")

        header = request.headers.get("Authorization", "")
        match = AUTHORIZATION.match(header)
        if not match:
            raise HmacFailed("Missing or malformed HMAC-SHA256 Authorization header.")
        signed = [name.strip().lower() for name in match["headers"].split(";")]
        if set(signed) != REQUIRED_SIGNED_HEADERS or len(signed) != 3:
            raise HmacFailed("SignedHeaders must be x-ms-date;host;x-ms-content-sha256.")

        date_header = request.headers.get("x-ms-date", "")
        self._check_date(date_header)

        content_hash = request.headers.get("x-ms-content-sha256", "")
        # Reading .body caches the raw bytes; DRF parses from the cached copy afterwards.
        if not hmac.compare_digest(content_hash.encode(), body_hash(django_request.body).encode()):
            raise HmacFailed("x-ms-content-sha256 does not match the request body.")

        values = {"x-ms-date": date_header, "x-ms-content-sha256": content_hash}
        target = raw_request_target(django_request)
        given = match["sig"].encode()
        rows = getattr(tenant, "access_keys_read", None)  # read with the tenant (resolution)
        if rows is None:
            rows = list(AccessKey.objects.for_tenant(tenant))
        now = datetime.now(UTC)
        # A key's previous secret still signs during its regeneration's grace period.
        keys = [(key, key_bytes(key.pk, key.secret_encrypted)) for key in rows]
        keys += [
            (key, key_bytes(key.pk, key.previous_secret_encrypted))
            for key in rows
            if key.previous_secret_encrypted
            and key.previous_expires_at
            and now < key.previous_expires_at
        ]
        for host in signed_host_candidates(django_request, tenant):
            values["host"] = host
            message = f"{request.method.upper()}\n{target}\n" + ";".join(
                values[name] for name in signed
            )
            for key, secret in keys:
                if hmac.compare_digest(sign(secret, message).encode(), given):
                    if not tenant.is_active:
                        # Authenticated but not allowed: the resource is suspended.
                        raise exceptions.PermissionDenied("This tenant is suspended.")
                    return KeyPrincipal(tenant=tenant, key_name=key.name), key
        raise HmacFailed("HMAC-SHA256 validation failed.")

    @staticmethod
    def _check_date(value: str) -> None:
        try:
            sent = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise HmacFailed("x-ms-date is missing or not an RFC 1123 date.") from None
        if sent.tzinfo is None:
            raise HmacFailed("x-ms-date must be in GMT.")
        skew = abs((datetime.now(UTC) - sent).total_seconds())
        if skew > settings.HMAC_MAX_CLOCK_SKEW_SECONDS:
            raise HmacFailed(
                f"x-ms-date is {int(skew)} s away from the server's clock "
                f"(at most {settings.HMAC_MAX_CLOCK_SKEW_SECONDS} s allowed)."
            )
