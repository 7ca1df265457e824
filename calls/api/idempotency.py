"""Repeatable requests: `Repeatability-Request-ID` (what the SDK sends) or `Idempotency-Key`.

The first request with a key claims it (a committed row), acts, and stores its 2xx
answer; a resend with the same key and the same request gets that answer replayed
without acting again. A resend while the first still runs gets 409; the same key with a
different request is refused with 409. Failed first attempts free the key so the client
can retry. Keys are per tenant.
"""

import hashlib
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from django.db import IntegrityError, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from callauto.errors import BadRequest, Conflict
from calls.models import IdempotentRequest
from tenants.models import Tenant


def _key(request: Request) -> str | None:
    # An explicit Idempotency-Key wins: the SDK adds a fresh Repeatability-Request-ID to
    # every call by itself, while an Idempotency-Key is the application's own choice.
    key = request.headers.get("Idempotency-Key") or request.headers.get("Repeatability-Request-ID")
    if key is None:
        return None
    if not 1 <= len(key) <= 128:
        raise BadRequest("Repeatability-Request-ID must be 1 to 128 characters.")
    first_sent = request.headers.get("Repeatability-First-Sent")
    if first_sent is not None:
        try:
            parsedate_to_datetime(first_sent)
        except (TypeError, ValueError):
            raise BadRequest("Repeatability-First-Sent must be an RFC 1123 date.") from None
    return key


def _fingerprint(request: Request) -> str:
    target = f"{request.method} {request.path}\n".encode()
    return hashlib.sha256(target + request._request.body).hexdigest()


def once(request: Request, tenant: Tenant, act: Callable[[], Response]) -> Response:
    """Run `act` at most once per repeatability key; replay its stored answer after."""
    key = _key(request)
    if key is None:
        return act()
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            record = IdempotentRequest.unscoped.create(
                tenant=tenant, key=key, fingerprint=fingerprint
            )
    except IntegrityError:
        existing = IdempotentRequest.objects.for_tenant(tenant).get(key=key)
        if existing.fingerprint != fingerprint:
            raise Conflict(
                "This Repeatability-Request-ID was used for a different request.",
                code="RepeatabilityRequestIdReused",
            ) from None
        if existing.status_code is None:
            raise Conflict(
                "The first request with this Repeatability-Request-ID is still running.",
                code="RequestInProgress",
            ) from None
        response = Response(existing.body, status=existing.status_code)
        response["Repeatability-Result"] = "accepted"
        return response
    try:
        # The action and its stored answer commit together: a crash in between cannot
        # leave an action done whose resend would act again.
        with transaction.atomic():
            response = act()
            if 200 <= response.status_code < 300:
                record.status_code = response.status_code
                record.body = response.data
                record.save(update_fields=["status_code", "body"])
    except BaseException:
        record.delete()
        raise
    if not 200 <= response.status_code < 300:
        record.delete()
    return response
