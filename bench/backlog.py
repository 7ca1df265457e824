"""Part 3's Django side, a separate process: `python -m bench.backlog --callback URL ...`.

With no cluster running, it creates `--connections` connected calls whose callback URL is
the bench's receiver and emits `--events` events round-robin over them, each in its own
transaction through `calls.events.emit` (so each enqueues its delivery task on commit, as
in production), then prints one JSON line after JSON_MARKER: how many, how long, and their
webhook-ids. Then, for each line on stdin:

- `RAW <n>`: one httpx.Client (keep-alive, this one thread) POSTs the body of one of those
  events, with the same kind of headers, n times to the receiver; prints the rate.
- `COSTS <n>`: (the cluster must be stopped) emits n more events on a fresh connection and
  delivers them right here, one after the other as `webhooks.delivery.deliver_key`
  does, timing each step: the claim transaction, the body and signatures, the SSRF guard,
  the POST and the record transaction; prints the mean milliseconds of each.

- `BURST <n>`: (the cluster running and idle) n more events over the same connections,
  committed together in one transaction; prints when they were committed and their ids.

Anything else, or end of input, stops it.
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import django

from bench.config import JSON_MARKER


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--callback", required=True, help="the receiver's URL")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--tag", default="throughput", help="benchRun of the events")
    return parser.parse_args()


def _emit(connections: list, index: int, tag: str) -> str:
    """Event number `index` of the run, round-robin over `connections`; its webhook-id."""
    from calls.events import emit

    event = emit(
        connections[index % len(connections)],
        "BenchEvent",
        benchRun=tag,
        benchSeq=index,
        sentAt=time.time(),
    )
    return f"msg_{event.event_id.hex}"


def backlog(connections: list, events: int, tag: str) -> dict:
    from django.db import transaction

    webhook_ids = []
    began = time.perf_counter()
    for index in range(events):
        with transaction.atomic():
            webhook_ids.append(_emit(connections, index, tag))
    seconds = time.perf_counter() - began
    from django_q.conf import Conf
    from django_q.models import OrmQ

    return {
        "emitted": len(webhook_ids),
        "seconds": seconds,
        "queued": OrmQ.objects.filter(key=Conf.CLUSTER_NAME).count(),  # ours and older
        "webhook_ids": webhook_ids,
    }


def burst(connections: list, events: int, tag: str) -> dict:
    """`events` events as `backlog` makes them, but all committed at one instant: each in
    its own savepoint of one transaction, so a running, idle cluster sees the whole
    backlog appear at `committed_at` (time.time() right after the COMMIT) and the time to
    work it off leaves out both the cluster's boot and the emitting."""
    from django.db import transaction

    webhook_ids = []
    began = time.perf_counter()
    with transaction.atomic():
        for index in range(events):
            with transaction.atomic():
                webhook_ids.append(_emit(connections, index, tag))
    committed_at = time.time()
    return {
        "emitted": len(webhook_ids),
        "seconds": time.perf_counter() - began,
        "committed_at": committed_at,
        "webhook_ids": webhook_ids,
    }


def _signed_request(connection: object, tag: str) -> tuple[str, dict[str, str]]:
    """The body and headers of one real callback (an event emitted for the purpose)."""
    from django.db import transaction

    from calls.events import emit
    from webhooks import signing

    with transaction.atomic():
        event = emit(connection, "BenchEvent", benchRun=f"{tag}-raw", benchSeq=0)
    body = json.dumps([event.delivery.payload])
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {signing.bearer_token(event.tenant)}",
        # Another webhook-id than any delivery's, so the receiver's counts stay apart.
        **signing.webhook_headers(event.tenant, "msg_raw_post_loop", body),
    }
    return body, headers


def raw_posts(url: str, body: str, headers: dict[str, str], count: int) -> dict:
    """`count` POSTs of the same body on one keep-alive httpx.Client, in this thread."""
    import httpx

    errors = 0
    with httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0)) as client:
        client.post(url, content=body, headers=headers)  # connect once before timing
        began = time.perf_counter()
        for _ in range(count):
            try:
                if client.post(url, content=body, headers=headers).status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
        seconds = time.perf_counter() - began
    return {"posts": count, "errors": errors, "seconds": seconds, "per_second": count / seconds}


def delivery_costs(connection: object, count: int) -> dict:
    """Deliver `count` events of `connection` in this process, step by step, as
    webhooks.delivery.deliver_key does (claim_next, send, record), and time each step.
    The body and signatures are built once more beside send() to time them alone; the
    POST is send() minus those. Time spent in SQL statements is summed per step (so the
    rest of a transaction is its COMMIT and Python), a one-row write transaction's COMMIT
    is timed alone, and one more delivery counts the statements per step."""
    from django.db import connection as db
    from django.db import transaction
    from django.db.models import F
    from django.test.utils import CaptureQueriesContext

    from callauto import outbound
    from calls.events import emit
    from webhooks import delivery, signing

    for index in range(count + 2):
        with transaction.atomic():
            emit(connection, "BenchEvent", benchRun="costs", benchSeq=index)
    client = delivery.http_client()
    names = ("claim", "body", "jwt", "webhook", "guard", "send", "record")
    steps: dict[str, list[float]] = {k: [] for k in (*names, "claim_sql", "record_sql")}
    sql_ms = [0.0]

    def timed(execute: Callable, sql: str, params: object, many: bool, context: dict) -> object:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_ms[0] += (time.perf_counter() - began) * 1000

    for index in range(count + 1):
        sql_ms[0] = 0.0
        t0 = time.perf_counter()
        with db.execute_wrapper(timed):
            claimed = delivery.claim_next(f"connection:{connection.pk}")
        t1 = time.perf_counter()
        claim_sql = sql_ms[0]
        if claimed is None:
            return {"error": "nothing to claim: is a cluster running?"}
        body = json.dumps([claimed.payload])
        t2 = time.perf_counter()
        signing.bearer_token(claimed.tenant)
        t3 = time.perf_counter()
        signing.webhook_headers(claimed.tenant, claimed.webhook_id, body)
        t4 = time.perf_counter()
        outbound.pin(claimed.url)
        t5 = time.perf_counter()
        outcome = delivery.send(client, claimed)
        t6 = time.perf_counter()
        sql_ms[0] = 0.0
        with db.execute_wrapper(timed):
            delivery.record(claimed, outcome)
        t7 = time.perf_counter()
        if not outcome.ok:
            return {"error": f"a delivery failed: {outcome.status or outcome.error_class}"}
        if index == 0:
            continue  # the first one loads keys and modules
        for name, began, ended in (
            ("claim", t0, t1),
            ("body", t1, t2),
            ("jwt", t2, t3),
            ("webhook", t3, t4),
            ("guard", t4, t5),
            ("send", t5, t6),
            ("record", t6, t7),
        ):
            steps[name].append((ended - began) * 1000)
        steps["claim_sql"].append(claim_sql)
        steps["record_sql"].append(sql_ms[0])
    commits = []
    for _ in range(50):
        with transaction.atomic():
            delivery.Delivery.unscoped.filter(pk=claimed.pk).update(attempts=F("attempts"))
            written = time.perf_counter()
        commits.append((time.perf_counter() - written) * 1000)
    result = {name: statistics.mean(values) for name, values in steps.items()}
    result["commit"] = statistics.median(commits)
    result["post"] = result["send"] - result["body"] - result["jwt"]
    result["post"] -= result["webhook"] + result["guard"]
    result["total"] = result["claim"] + result["send"] + result["record"]
    with CaptureQueriesContext(db) as claim_sql:
        claimed = delivery.claim_next(f"connection:{connection.pk}")
    with CaptureQueriesContext(db) as send_sql:
        outcome = delivery.send(client, claimed)
    with CaptureQueriesContext(db) as record_sql:
        delivery.record(claimed, outcome)
    result["queries"] = {
        "claim": len(claim_sql), "send": len(send_sql), "record": len(record_sql)
    }  # fmt: skip
    result["count"] = count
    return result


def main() -> int:
    args = parse_args()
    django.setup()
    from bench.produce import make_connections

    connections = make_connections(args.callback, args.connections)
    print(JSON_MARKER + json.dumps(backlog(connections, args.events, args.tag)), flush=True)
    for line in sys.stdin:
        command = line.split()
        if command[:1] == ["RAW"] and len(command) == 2:
            body, headers = _signed_request(make_connections(args.callback, 1)[0], args.tag)
            result = raw_posts(args.callback, body, headers, int(command[1]))
        elif command[:1] == ["BURST"] and len(command) == 2:
            result = burst(connections, int(command[1]), f"{args.tag}-burst")
        elif command[:1] == ["COSTS"] and len(command) == 2:
            result = delivery_costs(make_connections(args.callback, 1)[0], int(command[1]))
        else:
            break
        print(JSON_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
