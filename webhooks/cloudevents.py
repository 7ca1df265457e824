"""The CloudEvents 1.0 envelope ACS wraps each callback event in (ACS-WIRE.md §5.1)."""

import uuid
from datetime import datetime


def event_time(when: datetime) -> str:
    # ACS sends 7 fractional digits; azure-core's CloudEvent parser accepts up to 7.
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


def envelope(
    *,
    event_id: uuid.UUID,
    event_type: str,
    subject: str,
    data: dict,
    time: datetime,
    sequence: int,
) -> dict:
    """One CloudEvent as ACS sends it: `source` and `subject` name what it is about."""
    return {
        "id": str(event_id),
        "source": subject,
        "type": event_type,
        "data": data,
        "time": event_time(time),
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "subject": subject,
        # CloudEvents' sequence extension: the publisher's order, for receivers that must
        # reorder after retries (delivery is ordered only while healthy).
        "sequence": str(sequence),
    }
