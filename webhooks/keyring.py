"""Signing material for a batch of callbacks: read once per batch, parsed once per process.

A delivery loop signs hundreds of callbacks a second. Reading the JWT key and the tenant's
`whsec_` secrets for each one, decrypting them and signing a fresh RS256 token was a fifth
of a delivery's time. A Keyring reads the live secrets of every tenant of a batch in one
statement (on PostgreSQL the claim returns them with its rows), so a rotation (a new row,
an expiry) is seen by the very next batch, in every process; the JWT key is looked up
every REREAD_JWT_KEY seconds (a retired one stays valid). What is costly is cached per
process by row id and ciphertext, which a rotation changes: the decrypted secret, the
parsed RSA key. A bearer token is reused for
REUSE_TOKEN of its five-minute life (a receiver checks it the same way either way).
"""

import functools
import time
from collections import defaultdict
from datetime import UTC, datetime

from django.db.models import Q
from django.utils import timezone
from standardwebhooks import Webhook

from tenants import crypto
from tenants.models import Tenant
from webhooks import signing
from webhooks.models import JwtSigningKey, WebhookSecret

REUSE_TOKEN = 60.0  # seconds a bearer token is handed out again (it lives 300 s)
# Seconds the current JWT key is used before it is looked up again. Safe: a rotated key
# stays published (JWKS) for a day, so tokens it signs in the meantime still verify.
REREAD_JWT_KEY = 30.0

_jwt_key: list = []  # [(JwtSigningKey, monotonic time it was read)]

# (tenant id, kid) -> (token, monotonic time it was made)
_tokens: dict[tuple[int, str], tuple[str, float]] = {}


@functools.lru_cache(maxsize=4096)
def _webhook(row_id: int, encrypted: str) -> Webhook:
    """The HMAC signer of one secret row (decrypting it costs a Fernet round)."""
    return Webhook(crypto.decrypt(encrypted))


def _current_jwt_key() -> JwtSigningKey:
    if not _jwt_key or time.monotonic() - _jwt_key[0][1] >= REREAD_JWT_KEY:
        _jwt_key[:] = [(signing.current_jwt_key(), time.monotonic())]
    return _jwt_key[0][0]


class Keyring:
    """The keys that sign callbacks for `tenant_ids`, as stored right now."""

    def __init__(
        self, tenant_ids: set[int], secrets: dict[int, list[tuple[int, str]]] | None = None
    ) -> None:
        """`secrets`: each tenant's live (row id, ciphertext), newest first, if the caller
        read them already (the PostgreSQL claim does, in its own statement)."""
        self.jwt_key: JwtSigningKey = _current_jwt_key()
        if secrets is not None:
            rows = [
                (tenant, pk, encrypted) for tenant in secrets for pk, encrypted in secrets[tenant]
            ]
        else:
            live = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
            rows = (
                WebhookSecret.unscoped.filter(live, tenant_id__in=tenant_ids)
                .order_by("-created_at")
                .values_list("tenant_id", "pk", "secret_encrypted")
            )
        self._signers: dict[int, list[Webhook]] = defaultdict(list)
        for tenant_id, pk, encrypted in rows:
            self._signers[tenant_id].append(_webhook(pk, encrypted))
        for tenant_id in tenant_ids - self._signers.keys():
            # First callback of this tenant: webhook_secrets() makes its secret.
            secrets = signing.webhook_secrets(Tenant(pk=tenant_id))
            self._signers[tenant_id] = [Webhook(secret) for secret in secrets]

    def bearer(self, tenant_id: int) -> str:
        key = self.jwt_key
        cached = _tokens.get((tenant_id, key.kid))
        if cached and time.monotonic() - cached[1] < REUSE_TOKEN:
            return cached[0]
        token = signing.bearer_token(Tenant(pk=tenant_id), key=key)
        _tokens[(tenant_id, key.kid)] = (token, time.monotonic())
        return token

    def webhook_headers(self, tenant_id: int, message_id: str, body: str) -> dict[str, str]:
        sent_at = datetime.now(UTC)
        signatures = [s.sign(message_id, sent_at, body) for s in self._signers[tenant_id]]
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": " ".join(signatures),
        }
