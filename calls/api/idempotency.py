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

from django.db import connection, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from rest_framework.request import Request
from rest_framework.response import Response

from callauto.compiled import INT_MARKER, MARKER, Compiled
from callauto.errors import BadRequest, Conflict
from calls.models import IdempotentRequest
from calls.verb_atomic import rolled_back_whole
from tenants.models import Tenant

# The key is unique per tenant: LIMIT 1, no ORDER BY; compiled once per process (issue 15).
STORED = Compiled(
    lambda tenant_id, key: IdempotentRequest.unscoped.filter(tenant_id=tenant_id, key=key)[:1],
    [IdempotentRequest],
    markers=(INT_MARKER, MARKER),
)
IN_PROGRESS = "The first request with this Repeatability-Request-ID is still running."


class _KeyTaken(Exception):
    """Another request stored this key first: undo our action, replay its answer."""


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
    second's INSERT waits on the unique key for the first to commit, inserts nothing (ON
    CONFLICT DO NOTHING: no savepoint needed to tell the key's clash from the action's
    own errors), and rolls its own action back before replaying the first's answer.
    """
    key = _key(request)
    if key is None:
        return act()
    fingerprint = _fingerprint(request)
    stored = _stored(tenant, key)
    if stored is not None:
        return _replay(stored, fingerprint)
    try:
        with transaction.atomic(), rolled_back_whole():
            response = act()
            if 200 <= response.status_code < 300:
                answer = IdempotentRequest(
                    tenant=tenant, key=key, fingerprint=fingerprint,
                    status_code=response.status_code, body=response.data,
                )  # fmt: skip
                if not _store(answer):
                    raise _KeyTaken
    except _KeyTaken:
        stored = _stored(tenant, key)
        if stored is None:  # cleaned up in the meantime: as good as still running
            raise Conflict(IN_PROGRESS, code="RequestInProgress") from None
        return _replay(stored, fingerprint)
    return response


def _stored(tenant: Tenant, key: str) -> IdempotentRequest | None:
    found = STORED.rows(tenant.pk, key)
    return found[0][0] if found else None


def _store(answer: IdempotentRequest) -> bool:
    """INSERT the answer unless its key is stored already (then False), in one statement."""
    fields = [f for f in IdempotentRequest._meta.concrete_fields if not f.primary_key]
    query = InsertQuery(IdempotentRequest, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [answer])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [IdempotentRequest._meta.pk]  # RETURNING: no row on a clash
    with connection.cursor() as cursor:
        for sql, params in compiler.as_sql():
            cursor.execute(sql, params)
        return cursor.fetchone() is not None


def _replay(stored: IdempotentRequest, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise Conflict(
            "This Repeatability-Request-ID was used for a different request.",
            code="RepeatabilityRequestIdReused",
        )
    if stored.status_code is None:  # a row from before answers were stored with the key
        raise Conflict(IN_PROGRESS, code="RequestInProgress")
    response = Response(stored.body, status=stored.status_code)
    response["Repeatability-Result"] = "accepted"
    return response
