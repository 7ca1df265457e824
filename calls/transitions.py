"""The allowed state changes of calls, connections and participants, as tables.

A state absent from a table's keys is terminal. `transition()` checks the table and
writes with a guarded UPDATE (`WHERE state = old`), so when two processes race (the
gateway ingesting a hang-up while the API terminates) exactly one wins and the other
sees StaleState instead of silently overwriting.
"""

from typing import Any

from django.db import connection as db
from django.db import models

from calls import live_calls
from calls.models import Call, CallConnection, MediaOperation, Participant


class InvalidTransition(Exception):
    """The table does not allow this change from the object's current state."""


class StaleState(Exception):
    """Another process changed the state first."""


C = Call.State
CALL: dict[str, set[str]] = {
    C.CONNECTING: {C.CONNECTED, C.DISCONNECTED},
    C.CONNECTED: {C.DISCONNECTED},
}

K = CallConnection.State
CONNECTION: dict[str, set[str]] = {
    K.CONNECTING: {K.CONNECTED, K.DISCONNECTED},
    K.CONNECTED: {K.TRANSFERRING, K.DISCONNECTING, K.DISCONNECTED},
    K.TRANSFERRING: {K.TRANSFER_ACCEPTED, K.CONNECTED, K.DISCONNECTED},
    K.TRANSFER_ACCEPTED: {K.DISCONNECTED},
    K.DISCONNECTING: {K.DISCONNECTED},
}

P = Participant.State
PARTICIPANT: dict[str, set[str]] = {
    P.INVITED: {P.CONNECTED, P.FAILED, P.CANCELLED},
    P.CONNECTED: {P.DISCONNECTED},
}

M = MediaOperation.State
MEDIA: dict[str, set[str]] = {
    M.QUEUED: {M.RUNNING, M.CANCELED},
    M.RUNNING: {M.COMPLETED, M.FAILED, M.CANCELED},
}

TABLES: dict[type[models.Model], dict[str, set[str]]] = {
    Call: CALL,
    CallConnection: CONNECTION,
    Participant: PARTICIPANT,
    MediaOperation: MEDIA,
}


def can_transition(obj: models.Model, to: str) -> bool:
    return to in TABLES[type(obj)].get(obj.state, set())


def transition(obj: models.Model, to: str, **fields: Any) -> None:
    """Move `obj` to state `to`, also writing `fields`; update the instance to match.

    Raises InvalidTransition if the table forbids it, StaleState if the row's state
    is no longer what `obj` says.
    """
    if not can_transition(obj, to):
        raise InvalidTransition(f"{type(obj).__name__} cannot go from {obj.state} to {to}")
    model = type(obj)
    rows = model.unscoped.filter(pk=obj.pk, state=obj.state)
    if model is Call and to == C.DISCONNECTED:
        # Same transaction as the state: the concurrent-call limit stays exact.
        updated = live_calls.end(obj, rows, {"state": to, **fields})
    else:
        updated = rows.update(state=to, **fields)
    if updated == 0:
        raise StaleState(f"{model.__name__} {obj.pk} is no longer {obj.state}")
    obj.state = to
    for name, value in fields.items():
        setattr(obj, name, value)


def transition_numbered(connection: CallConnection, to: str) -> int:
    """`transition` for a connection that emits an event about it at once: the state and
    the event's number (`last_event_sequence` + 1, returned) in one UPDATE ... RETURNING,
    not two round trips. Same checks and errors as `transition`."""
    if not can_transition(connection, to):
        raise InvalidTransition(f"CallConnection cannot go from {connection.state} to {to}")
    table = db.ops.quote_name(CallConnection._meta.db_table)
    with db.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, last_event_sequence = last_event_sequence + 1"
            " WHERE id = %s AND state = %s RETURNING last_event_sequence",
            [to, connection.pk, connection.state],
        )
        row = cursor.fetchone()
    if row is None:
        raise StaleState(f"CallConnection {connection.pk} is no longer {connection.state}")
    connection.state = to
    connection.last_event_sequence = row[0]
    return row[0]
