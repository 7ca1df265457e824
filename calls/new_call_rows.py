"""CreateCall's rows in two round trips on PostgreSQL (issue 15).

A new call is a Call, its CallConnection, a Participant and a dial CarrierCommand per
target, then the concurrent-call slot, the caller-id check and the gateway's NOTIFY: an
INSERT each (with the ORM's Python to save it) and one statement for the rest. Here the
ids come first, from the four tables' identity sequences in one SELECT; with them every
row is complete before it is written (the foreign keys are DEFERRABLE INITIALLY
DEFERRED, checked at the commit), so the four INSERTs, the slot's guarded UPDATE, the
caller-id check and pg_notify (delivered at the commit, not at all on a rollback) go as
one statement of data-modifying CTEs. The checks after the INSERTs refuse just as well:
a refusal rolls the transaction (or the caller's savepoint) back.
"""

from collections.abc import Sequence

from django.db import connection, models
from django.db.models.sql import InsertQuery

from calls import live_calls, nudge
from calls.models import Call, CallConnection, CarrierCommand, Participant
from tenants.models import PhoneNumber, Tenant


def _next_ids(model: type[models.Model], count: str) -> str:
    sequence = f"pg_get_serial_sequence('{model._meta.db_table}', '{model._meta.pk.column}')"
    return f"ARRAY(SELECT nextval({sequence}) FROM generate_series(1, {count}))"


RESERVE_IDS = (
    f"SELECT {_next_ids(Call, '1')}, {_next_ids(CallConnection, '1')},"
    f" {_next_ids(Participant, '%s')}, {_next_ids(CarrierCommand, '%s')}"
)
SLOT_AND_CHECKS = (
    f"slot AS ({live_calls.TAKE_SLOT_SQL} RETURNING 1)"
    " SELECT EXISTS (SELECT 1 FROM slot),"
    f" EXISTS (SELECT 1 FROM {PhoneNumber._meta.db_table} WHERE tenant_id = %s AND e164 = %s),"
    " pg_notify(%s, '')"
)


def reserve_ids(call: Call, app: CallConnection, legs: Sequence[Participant]) -> list[int]:
    """Give the call, the connection and the legs their ids; return the legs' dial
    commands' ids (one per leg, in order)."""
    with connection.cursor() as cursor:
        cursor.execute(RESERVE_IDS, [len(legs), len(legs)])
        [call.pk], [app.pk], leg_ids, command_ids = cursor.fetchone()
    app.call = call  # sets call_id, now that the call has its id
    for leg, pk in zip(legs, leg_ids, strict=True):
        leg.pk, leg.call, leg.requested_by = pk, call, app
    return command_ids


def write(
    tenant: Tenant, caller_id: str, rows: Sequence[Sequence[models.Model]]
) -> tuple[bool, bool]:
    """INSERT `rows` (one list per model, ids set), take a slot, look the caller ID up
    and nudge the gateway, in one statement; return (slot taken, caller ID owned)."""
    ctes, params = [], []
    for n, objs in enumerate(rows):
        sql, values = _insert(objs)
        ctes.append(f"rows{n} AS ({sql})")
        params += values
    params += [*live_calls.slot_params(tenant), tenant.pk, caller_id, nudge.CHANNEL]
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)}, {SLOT_AND_CHECKS}", params)
        slot_taken, owned, _ = cursor.fetchone()
    for objs in rows:
        for obj in objs:
            obj._state.adding, obj._state.db = False, connection.alias
    return slot_taken, owned


def _insert(objs: Sequence[models.Model]) -> tuple[str, list]:
    """The ORM's own INSERT of `objs`, every concrete column (the id included)."""
    model = type(objs[0])
    query = InsertQuery(model)
    query.insert_values(model._meta.concrete_fields, objs)
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)
