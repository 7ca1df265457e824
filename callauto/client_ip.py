"""The address a request came from, for the login lockout (django-axes)."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind our TLS proxy the address the proxy saw.

    The proxy appends the peer it accepted to X-Forwarded-For, so only the right-most
    entry is trustworthy; earlier ones are whatever the client chose to send.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
