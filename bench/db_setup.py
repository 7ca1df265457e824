"""Database steps run inside `manage.py shell -c` (Django is set up there).

`configure()` readies the demo tenant for load and prints what the bench needs;
`cleanup()` deletes every row the bench created. Both print one JSON line after JSON_MARKER.
"""

import json

import redis
from django.db import connection, transaction
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import BadSignature, SignedPackage

from bench.config import BENCH_MARK, JSON_MARKER, TENANT_SLUG
from calls.models import Call, CallConnection, IdempotentRequest
from tenants.models import AccessKey, Tenant
from webhooks.models import Delivery

# Calls stay "connecting" without the gateway; the limit must not stop the load test.
MAX_CONCURRENT_CALLS = 1_000_000
MAX_QUEUED = 100_000  # a bound on how much of a task queue we inspect
DELIVER_TASK = "webhooks.tasks.deliver_events"


def _emit(payload: dict) -> None:
    print(JSON_MARKER + json.dumps(payload), flush=True)


def _is_bench_delivery(payload: str | bytes, ordering_keys: set[str]) -> bool:
    if isinstance(payload, bytes):  # Redis hands back bytes
        payload = payload.decode(errors="replace")
    try:
        task = SignedPackage.loads(payload)
    except (BadSignature, ValueError, TypeError):
        return False  # not signed with our key: certainly not ours
    args = task.get("args") or (None,)
    return task.get("func") == DELIVER_TASK and args[0] in ordering_keys


def _purge_queued_deliveries(ordering_keys: set[str], redis_url: str) -> int:
    """Drop queued delivery tasks of the bench's connections (a backlog left when part 2
    stops the cluster), from the ORM queue and, if given, the Redis list; otherwise the
    next run's cluster would spend its time on them."""
    if not ordering_keys:
        return 0
    queued = OrmQ.objects.filter(key=Conf.CLUSTER_NAME).only("pk", "payload")[:MAX_QUEUED]
    ours = [row.pk for row in queued if _is_bench_delivery(row.payload, ordering_keys)]
    removed, _ = OrmQ.objects.filter(pk__in=ours).delete()
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        key = f"django_q:{Conf.CLUSTER_NAME}:q"  # django-q2's Redis list for our cluster
        try:
            for item in client.lrange(key, 0, MAX_QUEUED - 1):
                if _is_bench_delivery(item, ordering_keys):
                    removed += client.lrem(key, 1, item)
        finally:
            client.close()
    return removed


def _delete_bench_rows(tenant: Tenant, redis_url: str) -> dict[str, int]:
    """Delete the bench's calls (their connections, participants, commands, events and
    deliveries cascade), its repeatability records and its queued delivery tasks.
    Only rows marked BENCH_MARK."""
    connections = CallConnection.unscoped.filter(tenant=tenant, operation_context=BENCH_MARK)
    connection_ids = set(connections.values_list("pk", flat=True))
    call_ids = set(connections.values_list("call_id", flat=True))
    _, per_model = Call.unscoped.filter(pk__in=call_ids).delete()
    _, repeats = IdempotentRequest.unscoped.filter(
        tenant=tenant, key__startswith=BENCH_MARK
    ).delete()
    keys = {f"connection:{pk}" for pk in connection_ids}
    # Deliveries are the outbox's rows, not the calls': they go separately.
    Delivery.unscoped.filter(tenant=tenant, ordering_key__in=keys).delete()
    tasks = _purge_queued_deliveries(keys, redis_url)
    return {**per_model, **repeats, **({"queued tasks": tasks} if tasks else {})}


def _database_version() -> str:
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        version = connection.pg_version
        return f"PostgreSQL {version // 10000}.{version % 10000}"
    return connection.vendor


def configure(redis_url: str = "") -> None:
    """Raise the demo tenant's call limit, drop leftovers of earlier runs, print its key."""
    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    with transaction.atomic():
        # A bench-database-only change, so no audit entry (services have no setter for it).
        Tenant.objects.filter(pk=tenant.pk).update(max_concurrent_calls=MAX_CONCURRENT_CALLS)
        leftovers = _delete_bench_rows(tenant, redis_url)
    key = AccessKey.objects.for_tenant(tenant).get(name=AccessKey.Name.PRIMARY)
    _emit(
        {
            "access_key": key.secret,
            "database": _database_version(),
            "leftovers": sum(leftovers.values()),
        }
    )


def cleanup(redis_url: str = "") -> None:
    """Delete what the bench wrote, and report how many rows of each kind that was."""
    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    with transaction.atomic():
        _emit({"deleted": _delete_bench_rows(tenant, redis_url)})
