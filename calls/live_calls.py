"""The concurrent-call limit, kept as a counter per tenant (calls.models.LiveCalls).

`live` is the number of the tenant's calls that are not disconnected. Every change of
that number writes the counter in the same transaction as the call row: CreateCall takes
a slot with one guarded UPDATE (`live < cap`), any other new call (incoming, simulated
peer-to-peer) adds one, the transition to `disconnected` (calls.transitions, through
`end`) gives one back. The counter's row lock orders those writes, so the cap holds
exactly under concurrency, and it is held only from the UPDATE to the commit: CreateCall
takes it as its last write instead of locking the tenant and counting its calls first
(issue 15).

Drift (a call row written around these functions: a bulk UPDATE, a deleted live call, a
counter row that did not exist yet) heals by recounting under the counter's lock: at
once when CreateCall finds the counter full, and every minute for every tenant
(`reconcile`, a django-q2 schedule). A counter that is too high only ever refuses early
until then; one that is too low would let calls past the cap, which is why the minute
reconciler exists.
"""

from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.db.models.sql import UpdateQuery

from calls.models import Call, LiveCalls
from tenants.models import Tenant

LIVE_STATES = (Call.State.CONNECTING, Call.State.CONNECTED)


# The guarded UPDATE that takes a slot, parameters (tenant id, cap): one text for
# take_slot and for CreateCall's single statement (calls.new_call_rows), which runs it
# as a CTE with RETURNING.
TAKE_SLOT_SQL = (
    f"UPDATE {LiveCalls._meta.db_table} SET live = live + 1 WHERE tenant_id = %s AND live < %s"
)


def slot_params(tenant: Tenant) -> list[int]:
    return [tenant.pk, tenant.max_concurrent_calls]


def take_slot(tenant: Tenant) -> bool:
    """Count the caller's new call, which its transaction has already inserted, if the
    tenant has a free slot. False: the limit is reached (the caller rolls back)."""
    with connection.cursor() as cursor:
        cursor.execute(TAKE_SLOT_SQL, slot_params(tenant))
        if cursor.rowcount:
            return True
    return has_room_after_recount(tenant)


def has_room_after_recount(tenant: Tenant) -> bool:
    """take_slot's guarded UPDATE found the counter full, or no counter row yet: count for
    real before refusing (heals drift upward)."""
    _, live = _recount(tenant.pk)  # includes the caller's own uncommitted call
    return live <= tenant.max_concurrent_calls


def added(call: Call) -> None:
    """A new live call that took no slot (incoming, peer-to-peer): count it."""
    LiveCalls.unscoped.filter(tenant_id=call.tenant_id).update(live=F("live") + 1)


def end(call: Call, rows: QuerySet[Call], values: dict[str, Any]) -> int:
    """UPDATE `rows` (the call, guarded by its state) to `values`, which take it to
    `disconnected`, and give its slot back in the same transaction; how many calls it
    ended (0 or 1: none gives nothing back). On PostgreSQL both are one statement (a
    data-modifying CTE): one round trip, not two, for every call that ends."""
    if connection.vendor != "postgresql":
        updated = rows.update(**values)
        if updated:
            LiveCalls.unscoped.filter(tenant_id=call.tenant_id, live__gt=0).update(
                live=F("live") - 1
            )
        return updated
    query = rows.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(connection.alias).as_sql()
    counter = connection.ops.quote_name(LiveCalls._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH ended AS ({sql} RETURNING tenant_id), slot AS ("
            f"UPDATE {counter} SET live = live - 1"
            " WHERE live > 0 AND tenant_id IN (SELECT tenant_id FROM ended)"
            ") SELECT COUNT(*) FROM ended",
            params,
        )
        return cursor.fetchone()[0]


def _recount(tenant_id: int) -> tuple[int | None, int]:
    """Set the counter to the true count, under its lock; return (what it said, the
    count). Exact: every writer of a call's liveness also writes this row, so it waits
    for us or we for it; the count is a fresh snapshot taken once we hold the row."""
    with transaction.atomic():
        locked = LiveCalls.unscoped.select_for_update(no_key=True).filter(tenant_id=tenant_id)
        counter = locked.first()
        before = None if counter is None else counter.live
        if counter is None:  # first use: make the row (a racing maker wins), then lock it
            LiveCalls.unscoped.bulk_create([LiveCalls(tenant_id=tenant_id)], ignore_conflicts=True)
            counter = locked.get()
        live = Call.unscoped.filter(tenant_id=tenant_id, state__in=LIVE_STATES).count()
        if live != counter.live:
            LiveCalls.unscoped.filter(tenant_id=tenant_id).update(live=live)
    return before, live


def reconcile() -> dict[int, tuple[int, int]]:
    """Recount every tenant's counter, one short transaction each; return the ones that
    had drifted as {tenant id: (counted before, true count)}."""
    drifted = {}
    for tenant_id in Tenant.objects.values_list("pk", flat=True).order_by("pk"):
        was, now = _recount(tenant_id)
        if was is not None and was != now:
            drifted[tenant_id] = (was, now)
    return drifted
