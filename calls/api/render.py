"""Response bodies in the shapes the SDK deserializes (ACS-WIRE.md §3)."""

from calls import streaming_verbs
from calls.events import participant_wire
from calls.models import CallConnection, Participant


def connection_properties(connection: CallConnection) -> dict:
    call = connection.call
    targets = getattr(connection, "targets", None)  # set by create_call, saving a query
    if targets is None:
        targets = Participant.unscoped.filter(call=call, role=Participant.Role.TARGET).order_by(
            "pk"
        )
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
