"""The part of handling the engine's CloudEvents that every campaign app does the same way:
the event's short type, its entry in the row's event log, and applying a batch in sequence
order, once per event id; and the short path for events a flow ignores (`log_only`)."""

import json
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from django.db import connection, models
from django.utils import timezone

from callauto.errors import BadRequest


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


def in_sequence(events: list[dict]) -> list[dict]:
    """`events` in the engine's sequence order (no sequence: first). A sequence that is
    not an integer is a bad body (400), not a server error."""

    def sequence(event: dict) -> int:
        try:
            return int(event.get("sequence") or 0)
        except (TypeError, ValueError):
            raise BadRequest("An event's sequence must be an integer.") from None

    return sorted(events, key=sequence)


def apply_in_order(
    row: ReceivesEvents, events: list[dict], apply: Callable[[Any, dict], None]
) -> None:
    """Apply `events` to `row` in sequence order; a redelivered event (an id the row has
    already received) is skipped, so at-least-once delivery acts once."""
    for event in in_sequence(events):
        event_id = str(event.get("id") or "")
        if event_id and row.received(event_id):
            continue
        apply(row, event)


# Appends the entries whose id the row's log does not have yet, in the order given; the
# row is found by tenant and callback token (RETURNING says whether it exists).
_APPEND = """\
UPDATE {table} SET events = {table}.events || COALESCE((
    SELECT jsonb_agg(new.entry ORDER BY new.position)
    FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS new(entry, position)
    WHERE NOT {table}.events @> jsonb_build_array(jsonb_build_object('id', new.entry->'id'))
), '[]'::jsonb)
WHERE {tenant} = %s AND callback_token = %s
RETURNING id
"""


def log_only(
    model: type[models.Model], tenant_id: int, token: str, events: list[dict],
    acts_on: Collection[str],
) -> bool:  # fmt: skip
    """The short path for a batch of events the flow does nothing about (ParticipantsUpdated,
    PlayStarted...): append them to the row's event log in one UPDATE, with no row lock held
    across round trips and no read of the row, once per event id as `apply_in_order` does.

    True when done (raises model.DoesNotExist for an unknown or foreign token); False when
    the full path must run: an event the flow acts on (`acts_on`), one without an id (no
    once-per-id to keep), or a database without jsonb (SQLite: it serialises writes anyway).
    """
    if connection.vendor != "postgresql" or not events:
        return False
    if any(event_type(e) in acts_on or not e.get("id") for e in events):
        return False
    now = timezone.now()
    entries: dict[str, dict] = {}
    for event in in_sequence(events):
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        entries.setdefault(str(event["id"]), log_entry(event, data, now))
    sql = _APPEND.format(
        table=connection.ops.quote_name(model._meta.db_table),
        tenant=connection.ops.quote_name(model._meta.get_field("tenant").column),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(list(entries.values())), tenant_id, token])
        if cursor.fetchone() is None:
            raise model.DoesNotExist
    return True
