"""Repeatable requests: `Repeatability-Request-ID` (what the SDK sends) or `Idempotency-Key`.

The first request with a key acts and stores its 2xx answer with the key, in the
action's own transaction; a resend with the same key and the same request gets that
answer replayed without acting again. The same key with a different request is refused
with 409. A failed first attempt stores nothing, so the client can retry. Keys are per
tenant.
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
    """Run `act` at most once per repeatability key; replay its stored answer after.

    One write transaction: the action and its answer's row commit together, so a crash in
    between cannot leave an action done whose resend would act again, and a failed first
    attempt leaves no row (the client may retry). Two first attempts at once both act; the
    second's INSERT waits on the unique key for the first to commit, fails, and rolls its
    own action back before replaying the first's answer.
    """
    key = _key(request)
    if key is None:
        return act()
    fingerprint = _fingerprint(request)
    stored = IdempotentRequest.objects.for_tenant(tenant).filter(key=key).first()
    if stored is not None:
        return _replay(stored, fingerprint)
    try:
        with transaction.atomic():
            response = act()
            if 200 <= response.status_code < 300:
                with transaction.atomic():  # a savepoint: tell the key's clash from act's
                    IdempotentRequest.unscoped.create(
                        tenant=tenant, key=key, fingerprint=fingerprint,
                        status_code=response.status_code, body=response.data,
                    )  # fmt: skip
    except IntegrityError:
        stored = IdempotentRequest.objects.for_tenant(tenant).filter(key=key).first()
        if stored is None:
            raise  # not our key: the action's own constraint
        return _replay(stored, fingerprint)
    return response


def _replay(stored: IdempotentRequest, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise Conflict(
            "This Repeatability-Request-ID was used for a different request.",
            code="RepeatabilityRequestIdReused",
        )
    if stored.status_code is None:  # a row from before answers were stored with the key
        raise Conflict(
            "The first request with this Repeatability-Request-ID is still running.",
            code="RequestInProgress",
        )
    response = Response(stored.body, status=stored.status_code)
    response["Repeatability-Result"] = "accepted"
    return response
