"""Writing CallEvents: the audit trail of what the application is sent, and its callback.

Each event is committed with the state change that caused it (same transaction) and
published through the webhooks outbox beside it; after commit a worker posts it. Per
connection, events carry a gap-free `sequenceNumber`-like order so receivers can sort, and
the connection is the ordering key, so callbacks go out in that order while healthy.
"""

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any, overload

from django.db import connection as db
from django.db.models import Model
from django.utils import timezone

from calls.models import Call, CallConnection, CallEvent, Participant
from webhooks import cloudevents, outbox

OK = {"code": 200, "subCode": 0, "message": "Action completed successfully."}
RECORDING_EVENTS = frozenset({"RecordingStateChanged", "StartRecordingFailed"})


def result(code: int, sub_code: int, message: str, *, sip_code: int | None = None) -> dict:
    info: dict[str, Any] = {"code": code, "subCode": sub_code, "message": message}
    if sip_code is not None:
        info["sipDetails"] = {"code": sip_code, "message": message}
    return info


def _subject(call: Call, connection: CallConnection | None, event_type: str, data: dict) -> str:
    if "recordingId" in data and event_type in RECORDING_EVENTS:
        return f"calling/recordings/{call.server_call_id}/recordingId/{data['recordingId']}"
    if connection is None:  # an out-of-call event, keyed by the server call
        return f"calling/serverCalls/{call.server_call_id}"
    return f"calling/callConnections/{connection.call_connection_id}"


def _record(
    call: Call,
    connection: CallConnection | None,
    event_type: str,
    sequence: int,
    data: dict,
    callback_uri: str,
) -> CallEvent:
    """Publish the event's callback and write the event beside it."""
    event_id, now = uuid.uuid4(), timezone.now()
    labels: dict[str, Any] = {"serverCallId": call.server_call_id, "call": call.pk}
    if connection is not None:
        labels["callConnectionId"] = connection.call_connection_id
    message = {
        "tenant_id": call.tenant_id,
        "url": callback_uri,
        "event_type": event_type,
        "payload": cloudevents.envelope(
            event_id=event_id,
            event_type=f"Microsoft.Communication.{event_type}",
            subject=_subject(call, connection, event_type, data),
            data=data,
            time=now,
            sequence=sequence,
        ),
        # Out-of-call events have no connection: they go out unordered, as before.
        "ordering_key": f"connection:{connection.pk}" if connection is not None else "",
        "sequence": sequence,
        "labels": labels,
        "message_id": event_id,
        "created_at": now,
    }
    event = CallEvent(
        tenant_id=call.tenant_id, call=call, connection=connection, event_id=event_id,
        sequence_number=sequence, event_type=event_type, data=data,
        callback_uri=callback_uri, created_at=now,
    )  # fmt: skip
    pending = getattr(_deferral, "pending", None)
    if pending is not None:
        pending.rows.append((message, event))
        return event
    event.delivery = outbox.publish(**message)
    event.save()
    return event


class Pending:
    """Events emitted inside `deferred()`: written by `flush()`, two INSERTs for all."""

    def __init__(self) -> None:
        self.rows: list[tuple[dict, CallEvent]] = []

    def mark(self) -> int:
        return len(self.rows)

    def drop(self, mark: int) -> None:
        """Forget what was emitted since `mark` (its savepoint was rolled back)."""
        del self.rows[mark:]

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        deliveries = outbox.publish_many([message for message, _ in rows])
        for (_, event), delivery in zip(rows, deliveries, strict=True):
            event.delivery = delivery
        CallEvent.unscoped.bulk_create([event for _, event in rows])


_deferral = threading.local()


@contextlib.contextmanager
def deferred() -> Iterator[Pending]:
    """Emit without writing: each event's delivery and CallEvent rows wait, in order, for
    `flush()`, which the caller runs before its transaction commits (the gateway, once
    per batch of carrier events: two INSERTs instead of two per event). The caller owns
    the contract: when a savepoint that emitted rolls back, it `drop`s back to the mark
    it took before. Nothing reads CallEvent or Delivery rows inside the engine."""
    pending = Pending()
    _deferral.pending = pending
    try:
        yield pending
    finally:
        _deferral.pending = None


@overload
def _next(model: type[Model], pk: int, field: str) -> int: ...
@overload
def _next(model: type[Model], pk: int, field: str, *more: str) -> tuple[int, ...]: ...
def _next(model: type[Model], pk: int, field: str, *more: str) -> Any:
    """Add one to the row's counter (counters) and return it (them, in order): one
    UPDATE ... RETURNING (the ORM's update() returns only a row count, so it took an
    UPDATE and a SELECT, two round trips per event in the gateway and the API). The
    UPDATE's row lock lasts until commit."""
    table = db.ops.quote_name(model._meta.db_table)
    columns = [db.ops.quote_name(model._meta.get_field(f).column) for f in (field, *more)]
    sets = ", ".join(f"{c} = {c} + 1" for c in columns)
    with db.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} WHERE id = %s RETURNING {', '.join(columns)}", [pk]
        )
        row = cursor.fetchone()
    return row if more else row[0]


def emit(
    connection: CallConnection,
    event_type: str,
    *,
    operation_context: str | None = None,
    result_information: dict | None = None,
    callback_uri: str | None = None,
    event_sequence: int | None = None,
    **extra: Any,
) -> CallEvent:
    """Append one event for `connection` and queue its callback after commit.

    `callback_uri` overrides the connection's (an action's operationCallbackUri);
    `event_sequence`: the number, taken already by the caller's own UPDATE.
    """
    # The UPDATE locks the connection row until commit, so numbers are handed out in
    # commit order with no gaps even when the API and the gateway emit at once.
    if event_sequence is None:
        sequence = _next(CallConnection, connection.pk, "last_event_sequence")
    else:
        sequence = event_sequence
    call = connection.call
    data: dict[str, Any] = {
        "callConnectionId": connection.call_connection_id,
        "serverCallId": call.server_call_id,
        "correlationId": str(call.correlation_id),
    }
    if operation_context:
        data["operationContext"] = operation_context
    if result_information is not None:
        data["resultInformation"] = result_information
    data.update(extra)
    uri = callback_uri or connection.callback_uri
    return _record(call, connection, event_type, sequence, data, uri)


def emit_for_call(
    call: Call,
    event_type: str,
    *,
    callback_uri: str,
    operation_context: str | None = None,
    result_information: dict | None = None,
    **extra: Any,
) -> CallEvent:
    """An event about a call the app is not in (out-of-call operations, by serverCallId)."""
    sequence = _next(Call, call.pk, "last_event_sequence")
    data: dict[str, Any] = {"serverCallId": call.server_call_id,
                            "correlationId": str(call.correlation_id)}  # fmt: skip
    if operation_context:
        data["operationContext"] = operation_context
    if result_information is not None:
        data["resultInformation"] = result_information
    data.update(extra)
    return _record(call, None, event_type, sequence, data, callback_uri)


def roster(call: Call) -> list[dict]:
    participants = Participant.unscoped.filter(call=call, state=Participant.State.CONNECTED)
    return [participant_wire(p) for p in participants.order_by("joined_at", "pk")]


def participant_wire(participant: Participant) -> dict:
    return {
        "identifier": participant.identifier.to_wire(),
        "isMuted": participant.is_muted,
        "isOnHold": participant.is_on_hold,
    }


def emit_participants_updated(
    call: Call, *, connections: list[CallConnection] | None = None
) -> None:
    """Send the full roster, with a per-connection increasing sequenceNumber, to every
    connection still in the call. `connections`: all of the call's, already read (their
    states current, `call` set), saving a SELECT."""
    participants = roster(call)
    if connections is None:
        live = list(
            CallConnection.unscoped.filter(call=call)
            .exclude(state=CallConnection.State.DISCONNECTED)
            .select_related("call")
        )
    else:
        live = [c for c in connections if c.state != CallConnection.State.DISCONNECTED]
    if call.out_of_call_callback_uri:
        emit_for_call(
            call,
            "ParticipantsUpdated",
            callback_uri=call.out_of_call_callback_uri,
            sequenceNumber=call.last_event_sequence + 1,
            participants=participants,
        )
    for connection in live:
        # Both counters in one UPDATE: the roster's number and the event's.
        roster_sequence, sequence = _next(
            CallConnection, connection.pk, "last_roster_sequence", "last_event_sequence"
        )
        emit(connection, "ParticipantsUpdated", event_sequence=sequence,
             sequenceNumber=roster_sequence, participants=participants)  # fmt: skip
