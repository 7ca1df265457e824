"""How callbacks prove they come from us, two ways (DESIGN.md "Events and callbacks"):

- an ACS-style `Authorization: Bearer <JWT>` (RS256, 5-minute lifetime, a fresh token per
  request) whose keys we publish as JWKS behind an OpenID configuration document;
- Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
  HMAC-SHA256 with the tenant's `whsec_` secret.
"""

import base64
import functools
import secrets
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks import Webhook

from tenants import audit, crypto
from tenants.models import Tenant
from webhooks.models import JwtSigningKey, WebhookSecret

TOKEN_LIFETIME = timedelta(minutes=5)


def issuer() -> str:
    return settings.CALLBACK_JWT_ISSUER


def audience(tenant: Tenant) -> str:
    """The tenant's immutable resource id, the JWT audience (as ACS uses its resource id)."""
    return f"callauto:tenant:{tenant.pk}"


def _live_keys() -> list[JwtSigningKey]:
    """Keys still published: not retired, or retiring later (a rotation's overlap)."""
    live = Q(retired_at__isnull=True) | Q(retired_at__gt=timezone.now())
    return list(JwtSigningKey.objects.filter(live).order_by("-created_at"))


def current_jwt_key() -> JwtSigningKey:
    keys = [key for key in _live_keys() if key.retired_at is None]
    if keys:
        return keys[0]
    return _new_jwt_key()


def _new_jwt_key() -> JwtSigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return JwtSigningKey.objects.create(private_key_encrypted=crypto.encrypt(pem))


@functools.lru_cache(maxsize=8)
def _private_key(kid: str, encrypted: str) -> rsa.RSAPrivateKey:
    """The parsed key, once per process: OpenSSL 3 checks an RSA key for ~45 ms each
    time it is loaded, which would cap callbacks at ~20/s per core."""
    pem = crypto.decrypt(encrypted).encode()
    return serialization.load_pem_private_key(pem, password=None)


def jwks() -> dict:
    """Every live key's public half, so tokens signed before a rotation still verify."""
    current_jwt_key()
    out = []
    for key in _live_keys():
        private = _private_key(key.kid, key.private_key_encrypted)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        out.append({**jwk, "kid": key.kid, "use": "sig", "alg": "RS256"})
    return {"keys": out}


def bearer_token(tenant: Tenant, *, key: JwtSigningKey | None = None) -> str:
    """A fresh token for `tenant`, signed with `key` (default: the current key)."""
    key = key or current_jwt_key()
    now = datetime.now(UTC)
    claims = {
        "iss": issuer(),
        "aud": audience(tenant),
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
    }
    private = _private_key(key.kid, key.private_key_encrypted)
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": key.kid})


def webhook_secrets(tenant: Tenant) -> list[str]:
    """The tenant's live `whsec_` secrets, newest first; one is made on first use."""
    live = WebhookSecret.objects.for_tenant(tenant).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )
    rows = list(live.order_by("-created_at"))
    if not rows:
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        rows = [
            WebhookSecret.unscoped.create(tenant=tenant, secret_encrypted=crypto.encrypt(secret))
        ]
    return [crypto.decrypt(row.secret_encrypted) for row in rows]


def webhook_headers(tenant: Tenant, message_id: str, body: str) -> dict[str, str]:
    sent_at = datetime.now(UTC)
    signatures = [Webhook(s).sign(message_id, sent_at, body) for s in webhook_secrets(tenant)]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


@transaction.atomic
def rotate_jwt_key(*, overlap: timedelta = timedelta(hours=24)) -> JwtSigningKey:
    """Sign with a new key from now on; older keys stay in the JWKS for `overlap`, so
    tokens already issued (and validators' cached key sets) keep working."""
    JwtSigningKey.objects.filter(retired_at__isnull=True).update(
        retired_at=timezone.now() + overlap
    )
    return _new_jwt_key()


@transaction.atomic
def rotate_webhook_secret(
    tenant: Tenant, *, actor: object, overlap: timedelta = timedelta(hours=24)
) -> str:
    """Make a new `whsec_` secret. The old ones keep signing (a second signature in
    `webhook-signature`) for `overlap`, so receivers can switch without losing events."""
    current = WebhookSecret.objects.for_tenant(tenant).filter(expires_at__isnull=True)
    current.update(expires_at=timezone.now() + overlap)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    row = WebhookSecret.unscoped.create(tenant=tenant, secret_encrypted=crypto.encrypt(secret))
    audit.record(
        tenant,
        actor=actor,
        action="webhook_secret.rotate",
        target=row,
        after={"overlap_hours": overlap.total_seconds() / 3600},
    )
    return secret
