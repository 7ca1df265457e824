"""Our callback endpoint checks that events come from the platform, as a customer's app
would: the `Authorization: Bearer` JWT must verify against the platform's published keys
(JWKS), with our tenant as audience and the platform as issuer."""

import time

import jwt
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from webhooks import signing

JWKS_TTL = 300.0  # seconds; a token with an unknown kid refreshes sooner (rotation)
_cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}


def _key_set(refresh: bool = False) -> jwt.PyJWKSet:
    cached = _cache.get("jwks")
    if cached and not refresh and time.monotonic() - cached[0] < JWKS_TTL:
        return cached[1]
    key_set = jwt.PyJWKSet.from_dict(signing.jwks())
    _cache["jwks"] = (time.monotonic(), key_set)
    return key_set


def _signing_key(kid: str) -> jwt.PyJWK:
    for refresh in (False, True):
        for key in _key_set(refresh).keys:
            if key.key_id == kid:
                return key
    raise exceptions.AuthenticationFailed("The callback token's key is not one of ours.")


class PlatformPrincipal:
    is_authenticated = True
    is_anonymous = False
    label = "platform callback"


class CallbackJwtAuthentication(authentication.BaseAuthentication):
    def authenticate_header(self, request: Request) -> str:
        return "Bearer"

    def authenticate(self, request: Request) -> tuple[PlatformPrincipal, dict]:
        tenant = request._request.tenant
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise exceptions.AuthenticationFailed("A Bearer token is required.")
        token = header.removeprefix("Bearer ").strip()
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
            claims = jwt.decode(
                token,
                _signing_key(kid).key,
                algorithms=["RS256"],
                audience=signing.audience(tenant),
                issuer=signing.issuer(),
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise exceptions.AuthenticationFailed(f"The callback token is invalid: {exc}") from exc
        return PlatformPrincipal(), claims
