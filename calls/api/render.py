"""Response bodies in the shapes the SDK deserializes (ACS-WIRE.md §3)."""

from callauto.compiled import INT_MARKER, Compiled
from calls import streaming_verbs
from calls.events import participant_wire
from calls.models import CallConnection, Participant

# The two participant reads of get call / list participants, compiled once per process
# (issue 15: building these querysets cost more Python than the rest of the request).
TARGETS = Compiled(
    lambda call_id: Participant.unscoped.filter(
        call_id=call_id, role=Participant.Role.TARGET
    ).order_by("pk"),
    [Participant],
    markers=(INT_MARKER,),
)
CONNECTED_PARTICIPANTS = Compiled(
    lambda call_id: Participant.unscoped.filter(
        call_id=call_id, state=Participant.State.CONNECTED
    ).order_by("joined_at", "pk"),
    [Participant],
    markers=(INT_MARKER,),
)


def connection_properties(connection: CallConnection) -> dict:
    call = connection.call
    targets = getattr(connection, "targets", None)  # set by create_call, saving a query
    if targets is None:
        targets = [p for (p,) in TARGETS.rows(call.pk)]
    body = {
        "callConnectionId": connection.call_connection_id,
        "serverCallId": call.server_call_id,
        "targets": [p.identifier.to_wire() for p in targets],
        "callConnectionState": connection.state,
        "callbackUri": connection.callback_uri,
        "correlationId": str(call.correlation_id),
    }
    if call.source_caller_id:
        body["sourceCallerIdNumber"] = {"value": call.source_caller_id}
    if call.source_display_name:
        body["sourceDisplayName"] = call.source_display_name
    streaming = streaming_verbs.subscription(connection, streaming_verbs.STREAMING)
    if streaming:
        body["mediaStreamingSubscription"] = streaming
    transcription = streaming_verbs.subscription(connection, streaming_verbs.TRANSCRIPTION)
    if transcription:
        body["transcriptionSubscription"] = transcription
    return body


def participant(p: Participant) -> dict:
    return participant_wire(p)
