"""`make bench-lists`: the portal's lists stay fast at a million calls (issue 17 item 8).

For one tenant in the bench database it seeds 1,000 calls (and deliveries; a tenth as many
recordings, appointments and audit entries), times each list's newest page, a deep page
(the cursor of a row ~90 % of the way back) and filtered pages, then tops the tenant up to
1,000,000 calls and times them again. Per page it prints the statements the view ran, the
median of 3 requests in ms, PostgreSQL's execution time of the list's own query and
whether that query is an index scan (its plan under -v, or when it is not). Rows are
written with INSERT ... SELECT FROM generate_series (bench/lists_seed.py); the pages are
requested through Django's test client, so page times are the whole view (filters, keyset
query, template) without the network.

    python -m bench.lists [--rows 1000000] [--small 1000] [--verbose] [--fresh]
"""

import argparse
import os
import statistics
import sys
import time
from urllib.parse import quote

ROUNDS = 3
LARGE_ENOUGH = 100_000
SLUG = "bench-lists"


def _setup() -> None:
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        sys.exit("BENCH_DATABASE_URL is not set (make bench-lists sets it)")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callauto.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("axes").setLevel(logging.WARNING)  # the bench's own login
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _tenant(fresh: bool):  # -> (tenant, user, plan)
    from django.contrib.auth import get_user_model

    from reminders.models import ReminderPlan
    from tenants import services
    from tenants.models import Membership, Tenant

    user, _ = get_user_model().objects.get_or_create(username="bench-lists-owner")
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = services.create_tenant("Bench lists", SLUG, actor=None)
        Membership.unscoped.create(tenant=tenant, user=user, role=Membership.Role.OWNER)
        number = services.add_phone_number(tenant, "+14255550100", actor=None)
        ReminderPlan.unscoped.create(tenant=tenant, name="Bench", caller_id=number)
    _empty(tenant, fresh)  # start from nothing: drop the last run's rows
    return tenant, user, ReminderPlan.unscoped.get(tenant=tenant, name="Bench")


def _empty(tenant, fresh: bool) -> None:
    from django.db import connection

    tables = [
        "recordings_recording", "webhooks_delivery", "reminders_appointment",
        "reminders_contact", "calls_call", "tenants_auditentry",
    ]  # fmt: skip
    with connection.cursor() as cursor:
        if fresh:  # a bench-only database: deleting a million calls row by row takes minutes
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            return
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
        for table in tables:  # the deleted rows' index entries would slow every scan
            cursor.execute(f"VACUUM ANALYZE {table}")


def _deep_cursor(table: str, time_column: str, tenant_id: int, fraction: float) -> str:
    """The cursor of the row `fraction` of the way back (found once with OFFSET here, in
    the bench; the pages themselves never use OFFSET)."""
    from django.db import connection

    from tenants.portal.listing import encode

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", [tenant_id])
        (total,) = cursor.fetchone()
        cursor.execute(
            f"SELECT {time_column}, id FROM {table} WHERE tenant_id = %s "
            f"ORDER BY {time_column} DESC, id DESC OFFSET %s LIMIT 1",
            [tenant_id, int(total * fraction)],
        )
        moment, pk = cursor.fetchone()
    return encode(moment, pk)


def _pages(tenant) -> list[tuple[str, str, str]]:
    """(list, page, path) for every page timed."""
    base = f"/portal/t/{SLUG}"
    endpoint = f"url={quote('https://app1.example.com/cb/…')}&event_type=PlayCompleted"
    deep = {
        "calls": _deep_cursor("calls_call", "created_at", tenant.pk, 0.9),
        "deliveries": _deep_cursor("webhooks_delivery", "created_at", tenant.pk, 0.9),
        "appointments": _deep_cursor("reminders_appointment", "starts_at", tenant.pk, 0.9),
        "recordings": _deep_cursor("recordings_recording", "started_at", tenant.pk, 0.9),
        "audit": _deep_cursor("tenants_auditentry", "created_at", tenant.pk, 0.9),
    }
    return [
        ("calls", "newest", f"{base}/calls/"),
        ("calls", "deep", f"{base}/calls/?older={deep['calls']}"),
        ("calls", "live poll", f"{base}/calls/?live=1"),
        ("calls", "state+end code", f"{base}/calls/?state=disconnected&end_code=486"),
        ("calls", "last week", f"{base}/calls/?since={_days_ago(7)}"),
        ("calls", "number", f"{base}/calls/?number=5550123"),
        ("calls", "pasted number", f"{base}/calls/?number={quote('+1 (425) 555-0123')}"),
        ("calls", "leg's number", f"{base}/calls/?number=2065550123"),
        ("calls", "common number", f"{base}/calls/?number=5550100"),
        ("appointments", "newest", f"{base}/reminders/appointments/"),
        ("appointments", "deep", f"{base}/reminders/appointments/?older={deep['appointments']}"),
        ("appointments", "confirmed", f"{base}/reminders/appointments/?status=confirmed"),
        ("recordings", "newest", f"{base}/recordings/"),
        ("recordings", "deep", f"{base}/recordings/?older={deep['recordings']}"),
        ("recordings", "last week", f"{base}/recordings/?since={_days_ago(7)}"),
        ("deliveries", "dead+retrying", f"{base}/deliveries/"),
        ("deliveries", "deep", f"{base}/deliveries/?state=delivered&older={deep['deliveries']}"),
        ("deliveries", "endpoint+type", f"{base}/deliveries/?state=delivered&{endpoint}"),
        ("audit", "newest", f"{base}/audit/"),
        ("audit", "deep", f"{base}/audit/?older={deep['audit']}"),
        ("audit", "action", f"{base}/audit/?action=recording.delete"),
    ]  # fmt: skip


def _days_ago(days: int) -> str:
    import datetime as dt

    return (dt.datetime.now(tz=dt.UTC).date() - dt.timedelta(days=days)).isoformat()


LIST_TABLES = {
    "calls": "calls_call",
    "appointments": "reminders_appointment",
    "recordings": "recordings_recording",
    "deliveries": "webhooks_delivery",
    "audit": "tenants_auditentry",
}


def _list_query(queries: list[dict], table: str) -> str:
    """The list's own keyset query: the one ORDER BY ... LIMIT on its table."""
    for query in queries:
        sql = query["sql"]
        if f'FROM "{table}"' in sql and "ORDER BY" in sql and "LIMIT" in sql:
            return sql
    return ""


def _explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql)
        return [row[0] for row in cursor.fetchall()]


def _execution_ms(plan: list[str]) -> float:
    """PostgreSQL's own time for the list query: unlike the page's time, it hardly moves
    when other processes keep the CPUs busy."""
    for line in plan:
        if line.startswith("Execution Time:"):
            return float(line.split()[2])
    return float("nan")


def _time(client, path: str, table: str) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(ROUNDS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path, secure=True)
            times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    sql = _list_query(captured.captured_queries, table)
    plan = _explain(sql) if sql else ["(no list query found)"]
    text = "\n".join(plan)
    return {
        "statements": len(captured.captured_queries),
        "ms": statistics.median(times),
        "query_ms": _execution_ms(plan),
        "index": "Index" in text and f"Seq Scan on {table}" not in text,
        "plan": plan,
    }


def _measure(client, tenant, rows: int, verbose: bool) -> list[dict]:
    results = []
    for name, page, path in _pages(tenant):
        measured = _time(client, path, LIST_TABLES[name])
        results.append({"rows": rows, "list": name, "page": page, **measured})
        scan = "index scan" if measured["index"] else "NOT an index scan"
        print(
            f"{rows:>9,} calls  {name:<13}{page:<16}{measured['statements']:>3} statements"
            f"{measured['ms']:>9.1f} ms page{measured['query_ms']:>8.2f} ms query  {scan}",
            flush=True,
        )
        # A small table is rightly read whole: only a large one's plan must use the index.
        if verbose or (not measured["index"] and rows >= LARGE_ENOUGH):
            print("      " + "\n      ".join(measured["plan"]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="calls at the large size")
    parser.add_argument("--small", type=int, default=1_000, help="calls at the small size")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every plan")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="TRUNCATE the list tables first (every tenant's rows: a bench-only database)",
    )
    args = parser.parse_args(argv)
    _setup()
    from django.test import Client

    from bench.lists_seed import add_rows

    tenant, user, plan = _tenant(args.fresh)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    done, results = 0, []
    for size in (args.small, args.rows):
        started = time.perf_counter()
        add_rows(tenant.pk, plan.pk, size - done, (size - done) // 10, offset=done)
        print(f"seeded {size:,} calls in {time.perf_counter() - started:.1f} s", flush=True)
        done = size
        results += _measure(client, tenant, size, args.verbose)
    _summary(results)
    return 0


def _summary(results: list[dict]) -> None:
    small, large = min(r["rows"] for r in results), max(r["rows"] for r in results)
    print(
        f"\n{'list':<13}{'page':<16}{f'page / query ms @{small:,}':>28}"
        f"{f'page / query ms @{large:,}':>32}  statements"
    )
    for result in (r for r in results if r["rows"] == small):
        other = next(
            r for r in results
            if r["rows"] == large and (r["list"], r["page"]) == (result["list"], result["page"])
        )  # fmt: skip
        same = "same" if other["statements"] == result["statements"] else "CHANGED"
        print(
            f"{result['list']:<13}{result['page']:<16}"
            f"{result['ms']:>19.1f} / {result['query_ms']:<6.2f}"
            f"{other['ms']:>23.1f} / {other['query_ms']:<6.2f}  {other['statements']} ({same})"
        )


if __name__ == "__main__":
    sys.exit(main())
