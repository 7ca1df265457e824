"""One dialling budget per tenant, shared by every campaign app.

Each campaign app registers a load source at start-up: how many of its calls are in
flight, how many it dialled in the last second, and how many are waiting to be dialled.
A dispatcher asks `budget()` under the tenant's row lock (so ticks of one tenant, of any
app, are serialized and the counts are exact) and may place that many calls now.

Priority: a source's free capacity is first offered to sources of higher priority with
work waiting, so an emergency notification runs ahead of reminder traffic while both stay
within the tenant's calls-per-second and concurrent-call limits.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tenants.models import Tenant


@dataclass(frozen=True)
class Load:
    in_flight: int = 0
    last_second: int = 0
    waiting: int = 0


LoadSource = Callable[[Tenant, datetime], Load]
_sources: dict[str, tuple[int, LoadSource]] = {}


def register(name: str, *, priority: int, source: LoadSource) -> None:
    """Register (or replace) campaign app `name`'s load; higher `priority` dials first."""
    _sources[name] = (priority, source)


def budget(tenant: Tenant, now: datetime, *, name: str) -> int:
    """How many calls campaign `name` may place for `tenant` this second (0 or more).

    The caller holds the tenant's row lock (select_for_update) for the whole tick.
    """
    mine = _sources[name][0]
    loads = {key: (prio, source(tenant, now)) for key, (prio, source) in _sources.items()}
    in_flight = sum(load.in_flight for _, load in loads.values())
    last_second = sum(load.last_second for _, load in loads.values())
    free = min(tenant.calls_per_second - last_second, tenant.max_concurrent_calls - in_flight)
    ahead = sum(load.waiting for prio, load in loads.values() if prio > mine)
    return max(0, free - ahead)
