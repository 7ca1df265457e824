"""Writing CallEvents: the audit trail and the callback outbox in one row.

Each event is committed with the state change that caused it (same transaction), and a
Delivery row beside it; after commit a django-q2 task posts it (calls.tasks). Per
connection, events carry a gap-free `sequenceNumber`-like order so receivers can sort.
"""

from typing import Any

from django.db import transaction
from django.db.models import F

from calls import delivery
from calls.models import Call, CallConnection, CallEvent, Delivery, Participant

OK = {"code": 200, "subCode": 0, "message": "Action completed successfully."}


def result(code: int, sub_code: int, message: str, *, sip_code: int | None = None) -> dict:
    info: dict[str, Any] = {"code": code, "subCode": sub_code, "message": message}
    if sip_code is not None:
        info["sipDetails"] = {"code": sip_code, "message": message}
    return info


def emit(
    connection: CallConnection,
    event_type: str,
    *,
    operation_context: str | None = None,
    result_information: dict | None = None,
    callback_uri: str | None = None,
    **extra: Any,
) -> CallEvent:
    """Append one event for `connection` and queue its delivery after commit.

    `callback_uri` overrides the connection's (an action's operationCallbackUri).
    """
    # The UPDATE locks the connection row until commit, so numbers are handed out in
    # commit order with no gaps even when the API and the gateway emit at once.
    CallConnection.unscoped.filter(pk=connection.pk).update(
        last_event_sequence=F("last_event_sequence") + 1
    )
    sequence = CallConnection.unscoped.values_list("last_event_sequence", flat=True).get(
        pk=connection.pk
    )
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
    event = CallEvent(
        tenant_id=connection.tenant_id,
        call=call,
        connection=connection,
        sequence_number=sequence,
        event_type=event_type,
        data=data,
        callback_uri=callback_uri or connection.callback_uri,
    )
    event.save()
    Delivery.unscoped.create(
        tenant_id=connection.tenant_id,
        event=event,
        connection=connection,
        url=event.callback_uri,
    )
    connection_id = connection.pk
    # robust: the change is committed either way; a broker hiccup must not turn it into an
    # error for the caller (the sweeper enqueues whatever was not).
    transaction.on_commit(lambda: delivery.enqueue(connection_id), robust=True)
    return event


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
    Call.unscoped.filter(pk=call.pk).update(last_event_sequence=F("last_event_sequence") + 1)
    sequence = Call.unscoped.values_list("last_event_sequence", flat=True).get(pk=call.pk)
    data: dict[str, Any] = {"serverCallId": call.server_call_id,
                            "correlationId": str(call.correlation_id)}  # fmt: skip
    if operation_context:
        data["operationContext"] = operation_context
    if result_information is not None:
        data["resultInformation"] = result_information
    data.update(extra)
    event = CallEvent(
        tenant_id=call.tenant_id, call=call, connection=None, sequence_number=sequence,
        event_type=event_type, data=data, callback_uri=callback_uri,
    )  # fmt: skip
    event.save()
    row = Delivery.unscoped.create(tenant_id=call.tenant_id, event=event, url=callback_uri)
    transaction.on_commit(lambda: delivery.enqueue_one(row.pk), robust=True)
    return event


def roster(call: Call) -> list[dict]:
    participants = Participant.unscoped.filter(call=call, state=Participant.State.CONNECTED)
    return [participant_wire(p) for p in participants.order_by("joined_at", "pk")]


def participant_wire(participant: Participant) -> dict:
    return {
        "identifier": participant.identifier.to_wire(),
        "isMuted": participant.is_muted,
        "isOnHold": participant.is_on_hold,
    }


def emit_participants_updated(call: Call) -> None:
    """Send the full roster, with a per-connection increasing sequenceNumber, to every
    connection still in the call."""
    participants = roster(call)
    live = CallConnection.unscoped.filter(call=call).exclude(
        state=CallConnection.State.DISCONNECTED
    )
    if call.out_of_call_callback_uri:
        emit_for_call(
            call,
            "ParticipantsUpdated",
            callback_uri=call.out_of_call_callback_uri,
            sequenceNumber=call.last_event_sequence + 1,
            participants=participants,
        )
    for connection in live.select_related("call"):
        CallConnection.unscoped.filter(pk=connection.pk).update(
            last_roster_sequence=F("last_roster_sequence") + 1
        )
        sequence = CallConnection.unscoped.values_list("last_roster_sequence", flat=True).get(
            pk=connection.pk
        )
        emit(connection, "ParticipantsUpdated", sequenceNumber=sequence, participants=participants)
