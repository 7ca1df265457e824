"""Part 2's event producer, a separate process: `python -m bench.produce ...`.

It is its own process because Django reads the broker choice (REDIS_URL) once, at
settings import. It creates a few connected calls whose callback URL is the bench's
receiver, emits one warm-up event per connection and prints READY. Then, for each line
`RUN <tag> <rate> <seconds>` on stdin, it emits BenchEvent at that steady rate, each in
its own transaction exactly as the engine does (calls.events.emit: event and delivery
rows, the django-q2 task enqueued on commit), and prints one JSON line after JSON_MARKER.
Each event's data carries `sentAt` (time.time() just before its transaction starts),
`benchRun` (the tag) and `benchSeq`. `COST` times, in this process, the per-callback
steps of a delivery (JWT, webhook signature, a new httpx.Client) and prints them as
JSON too. Anything else, or end of input, stops it.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import django

from bench.config import JSON_MARKER

if TYPE_CHECKING:
    from calls.models import CallConnection

LATE_STOP_SECONDS = 5  # if the database cannot keep the pace, stop this long after plan


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--callback", required=True, help="the receiver's URL")
    parser.add_argument("--warmup-tag", required=True, help="benchRun of the warm-up events")
    parser.add_argument("--connections", type=int, default=5)
    return parser.parse_args()


def make_connections(callback: str, count: int) -> list["CallConnection"]:
    """`count` connected outbound calls of the demo tenant, marked for cleanup."""
    from bench.config import BENCH_MARK, CALLER_ID, TENANT_SLUG
    from calls.models import Call, CallConnection
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    connections = []
    for _ in range(count):
        call = Call.unscoped.create(
            tenant=tenant,
            direction=Call.Direction.OUTBOUND,
            state=Call.State.CONNECTED,
            source_caller_id=CALLER_ID,
        )
        connections.append(
            CallConnection.unscoped.create(
                tenant=tenant,
                call=call,
                callback_uri=callback,
                operation_context=BENCH_MARK,
                state=CallConnection.State.CONNECTED,
            )
        )
    return connections


def emit_one(connection: "CallConnection", event_type: str, **data: object) -> None:
    """One event in its own transaction; the delivery task is enqueued on commit."""
    from django.db import transaction

    from calls.events import emit

    with transaction.atomic():
        emit(connection, event_type, **data)


def steady(connections: list["CallConnection"], tag: str, rate: float, seconds: float) -> dict:
    """Emit round-robin over `connections` on a fixed schedule of `rate` per second."""
    total = int(rate * seconds)
    emit_ms: list[float] = []
    start = time.monotonic()
    hard_stop = start + seconds + LATE_STOP_SECONDS
    for index in range(total):
        due = start + index / rate
        now = time.monotonic()
        if now >= hard_stop:
            break
        if due > now:
            time.sleep(due - now)
        began = time.perf_counter()
        emit_one(
            connections[index % len(connections)],
            "BenchEvent",
            sentAt=time.time(),
            benchRun=tag,
            benchSeq=index,
        )
        emit_ms.append((time.perf_counter() - began) * 1000)
    return {
        "sent": len(emit_ms),
        "planned": total,
        "seconds": time.monotonic() - start,
        "emit_ms_p50": statistics.median(emit_ms) if emit_ms else 0.0,
    }


def _mean_ms(action: Callable[[], object], repeat: int) -> float | None:
    """Mean milliseconds of `action` after one untimed call (which may create keys or load
    modules); None if it fails, so a changed product internal cannot break the bench."""
    try:
        action()
        began = time.perf_counter()
        for _ in range(repeat):
            action()
    except Exception:  # an optional diagnostic: never fatal
        return None
    return (time.perf_counter() - began) / repeat * 1000


def callback_costs(repeat: int = 10) -> dict[str, float | None]:
    """Mean CPU milliseconds of the steps a delivery task takes per callback (signing) or
    per run (a new httpx.Client, as webhooks.delivery once made one for each task)."""
    import httpx

    from bench.config import TENANT_SLUG
    from tenants.models import Tenant
    from webhooks import signing

    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    body = json.dumps([{"data": {}}])

    def new_client() -> None:
        httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0), follow_redirects=False).close()

    return {
        "jwt_ms": _mean_ms(lambda: signing.bearer_token(tenant), repeat),
        "webhook_ms": _mean_ms(lambda: signing.webhook_headers(tenant, "msg_x", body), repeat),
        "client_ms": _mean_ms(new_client, repeat),
    }


def main() -> int:
    args = parse_args()
    django.setup()
    connections = make_connections(args.callback, args.connections)
    for connection in connections:
        emit_one(connection, "BenchWarmup", benchRun=args.warmup_tag)
    print("READY", flush=True)
    for line in sys.stdin:
        command = line.split()
        if command == ["COST"]:
            result = callback_costs()
        elif command[:1] == ["RUN"] and len(command) == 4:
            tag, rate, seconds = command[1], float(command[2]), float(command[3])
            result = steady(connections, tag, rate, seconds)
        else:
            break
        print(JSON_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
