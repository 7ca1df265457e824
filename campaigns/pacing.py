"""One dialling budget per tenant, shared by every campaign app.

Each campaign app registers a load source at start-up: how many of its calls are in
flight, how many it dialled in the last second, and how many are waiting to be dialled.
A dispatcher asks `budget()` inside `turn()` (so ticks of one tenant, of any app, are
serialized and the counts are exact) and may place that many calls now.

Priority: a source's free capacity is first offered to sources of higher priority with
work waiting, so an emergency notification runs ahead of reminder traffic while both stay
within the tenant's calls-per-second and concurrent-call limits.
"""

import contextlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet

from tenants.models import Tenant

# pg_advisory_lock(int4, int4) key space of the dialling turn: (this, tenant id).
_TURN_LOCK_CLASS = 0x43414D50  # "CAMP"


@dataclass(frozen=True)
class Load:
    """A campaign app's share of a tenant's budget, as rows to count: its calls in flight,
    those it dialled in the last second and (capped) those waiting to be dialled. Every
    app's rows are counted in one statement (`_count`): five COUNTs, one round trip each,
    were most of a dispatcher's statements, ten ticks a second."""

    in_flight: QuerySet
    last_second: QuerySet
    waiting: QuerySet | None = None


LoadSource = Callable[[Tenant, datetime], Load]
_sources: dict[str, tuple[int, LoadSource]] = {}
# (app, tenant id) whose last budget found every concurrent call in use (this process),
# with the tenant's creation time: an id used again (SQLite, rolled back) is not the same.
_full: dict[tuple[str, int], object] = {}


def register(name: str, *, priority: int, source: LoadSource) -> None:
    """Register (or replace) campaign app `name`'s load; higher `priority` dials first."""
    _sources[name] = (priority, source)


def _count(querysets: list[QuerySet]) -> list[int]:
    """How many rows each queryset has, in one statement."""
    parts, params = [], []
    for rows in querysets:
        sql, more = rows.query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted)")
        params.extend(more)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return list(cursor.fetchone())


def budget(tenant: Tenant, now: datetime, *, name: str) -> int:
    """How many calls campaign `name` may place for `tenant` this second (0 or more).

    The caller is inside `turn(tenant)` for the whole tick.
    """
    mine = _sources[name][0]
    tagged: list[tuple[str, QuerySet]] = []
    for prio, source in _sources.values():
        load = source(tenant, now)
        tagged += [("in_flight", load.in_flight), ("last_second", load.last_second)]
        if load.waiting is not None and prio > mine:  # only work ahead of ours counts
            tagged.append(("ahead", load.waiting))
    totals = {"in_flight": 0, "last_second": 0, "ahead": 0}
    for (what, _), count in zip(tagged, _count([rows for _, rows in tagged]), strict=True):
        totals[what] += count
    in_flight, last_second, ahead = totals["in_flight"], totals["last_second"], totals["ahead"]
    if in_flight >= tenant.max_concurrent_calls:
        _full[name, tenant.pk] = tenant.created_at
    else:
        _full.pop((name, tenant.pk), None)
    free = min(tenant.calls_per_second - last_second, tenant.max_concurrent_calls - in_flight)
    return max(0, free - ahead)


def still_full(tenant: Tenant, now: datetime, *, name: str) -> bool:
    """True while every concurrent call the tenant may have is in flight, asked only once
    the last `budget` of this app found it so: then nothing can be placed, and one count
    of the calls in flight (one statement, outside the turn) says so instead of a tick
    (the turn's locks, the tenant row, every load). Skipping is safe without the turn:
    a tick placing calls meanwhile only fills the cap further; one that ends them is
    seen by the next probe. False also means "not known": tick as usual."""
    if _full.get((name, tenant.pk)) != tenant.created_at:
        return False
    in_flight = sum(_count([source(tenant, now).in_flight for _, source in _sources.values()]))
    if in_flight >= tenant.max_concurrent_calls:
        return True
    _full.pop((name, tenant.pk), None)
    return False


@contextlib.contextmanager
def turn(tenant: Tenant, *, name: str) -> Iterator[Tenant | None]:
    """The tenant's dialling turn: ticks of one tenant, of any campaign app and any
    dispatcher process, run one at a time inside it, so `budget()`'s counts are exact;
    yields the tenant row as it is now (its limits), or None when another dispatcher of
    the same campaign app (`name`) is ticking this tenant right now: it places this
    moment's calls, so the caller skips its tick instead of queueing behind it to count
    a budget that is spent (two runs of one dispatcher overlap whenever a launch kicks
    one while the minute schedule's is still going). Apps queue for the turn in order.

    On PostgreSQL the turn is a session advisory lock and no transaction is held open: a
    tick places each call in its own short transaction, so the engine's live-call counter
    row (locked by create_call until its commit) is never held across a tick's other
    calls, which made every ending call and every hang-up wait for the whole tick. A
    dispatcher that dies drops its session and so its turn. Elsewhere (SQLite, which
    serializes writers anyway) the turn is the tenant's row lock in one transaction.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        return
    mine = [zlib.crc32(name.encode()) & 0x7FFFFFFF, tenant.pk]
    shared = [_TURN_LOCK_CLASS, tenant.pk]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", mine)
        if not cursor.fetchone()[0]:
            yield None
            return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", shared)
        yield Tenant.objects.get(pk=tenant.pk)
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s), pg_advisory_unlock(%s, %s)",
                    shared + mine,
                )
        except DatabaseError:
            if not connection.in_atomic_block:  # a broken session: drop it and its locks
                connection.close()
