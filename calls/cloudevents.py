"""The CloudEvents 1.0 envelope ACS wraps each callback event in (ACS-WIRE.md §5.1)."""

from calls.models import CallEvent

RECORDING_EVENTS = frozenset({"RecordingStateChanged", "StartRecordingFailed"})


def _time(event: CallEvent) -> str:
    # ACS sends 7 fractional digits; azure-core's CloudEvent parser accepts up to 7.
    return event.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def to_cloudevent(event: CallEvent) -> dict:
    if "recordingId" in event.data and event.event_type in RECORDING_EVENTS:
        recording = event.data["recordingId"]
        subject = f"calling/recordings/{event.call.server_call_id}/recordingId/{recording}"
    elif event.connection is None:  # an out-of-call event, keyed by the server call
        subject = f"calling/serverCalls/{event.call.server_call_id}"
    else:
        subject = f"calling/callConnections/{event.connection.call_connection_id}"
    return {
        "id": str(event.event_id),
        "source": subject,
        "type": f"Microsoft.Communication.{event.event_type}",
        "data": event.data,
        "time": _time(event),
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "subject": subject,
        # CloudEvents' sequence extension: the connection's event order, for receivers
        # that must reorder after retries (delivery is ordered only while healthy).
        "sequence": str(event.sequence_number),
    }
