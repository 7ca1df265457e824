"""The part of handling the engine's CloudEvents that every campaign app does the same way:
the event's short type, its entry in the row's event log, and applying a batch in sequence
order, once per event id."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol


class ReceivesEvents(Protocol):
    def received(self, event_id: str) -> bool: ...


def event_type(event: dict) -> str:
    """`CallConnected` for `Microsoft.Communication.CallConnected` (either type field)."""
    name = event.get("type") or event.get("eventType") or ""
    return str(name).removeprefix("Microsoft.Communication.")


def log_entry(event: dict, data: dict, now: datetime) -> dict:
    """What a campaign row keeps of one event (its audit trail; `id` makes redeliveries
    recognisable): type, sequence, the engine's time and ours, the result if any."""
    info = data.get("resultInformation") or {}
    return {
        "id": str(event.get("id") or ""),
        "type": event_type(event),
        "sequence": event.get("sequence"),
        "time": event.get("time"),
        "received": now.isoformat(),
        **({"result": info} if info else {}),
    }


def apply_in_order(
    row: ReceivesEvents, events: list[dict], apply: Callable[[Any, dict], None]
) -> None:
    """Apply `events` to `row` in sequence order; a redelivered event (an id the row has
    already received) is skipped, so at-least-once delivery acts once."""
    for event in sorted(events, key=lambda e: int(e.get("sequence") or 0)):
        event_id = str(event.get("id") or "")
        if event_id and row.received(event_id):
            continue
        apply(row, event)
