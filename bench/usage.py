"""Usage reports over 1,000,000 call legs of 100 tenants: `make bench-usage`
(`python -m bench.usage`).

Seeds the bench database (bench/usage_seed.py: legs by INSERT ... SELECT, roll-ups by the
real roll-up code), starts gunicorn as production runs it (DEBUG off, 2 sync workers),
then times, one request at a time after a warm-up:
- the platform operators' 30-day report across all tenants (`/portal/usage/all/`, a
  superuser's session: it is a portal page, HMAC keys belong to tenants), target 250 ms;
- one tenant's month at the API (`/t/<slug>/api/v1/usage`, HMAC-signed as the SDK signs),
  rotating over ten tenants, target 100 ms;
- for comparison, the same month as the portal page with its chart (no target).
Prints p50 / p95 / max per request and whether the targets are met (exit status 1 if not).
"""

import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlencode

from bench import report
from bench.config import DATABASE_URL, GUNICORN, JSON_MARKER, base_env
from bench.procs import BenchError, Service, free_port, manage, wait_http_ok
from tests.acs_signing import sign_headers

WARMUP = 10
SAMPLES = 200
# The targets; the tenant's month as a portal page is shown for comparison.
TARGETS_MS = {"platform": 250.0, "api": 100.0, "page": None}


def seed(env: dict[str, str]) -> dict:
    out = manage(
        env, "shell", "-c", "from bench import usage_seed; usage_seed.seed()", timeout=1800
    )
    for line in out.splitlines():
        if line.startswith(JSON_MARKER):
            return json.loads(line.removeprefix(JSON_MARKER))
    raise BenchError(f"usage_seed.seed() printed no result:\n{out[-2000:]}")


def last_month() -> tuple[str, str]:
    first_this = datetime.now(UTC).date().replace(day=1)
    last = first_this - timedelta(days=1)
    return last.replace(day=1).isoformat(), last.isoformat()


def timed(
    port: int, request: Callable[[int], tuple[str, dict[str, str]]], n: int, expect: bytes
) -> list[float]:
    """Send `n` GETs built by `request(i)`; each must answer 200 with `expect` in its body
    (so an empty report cannot pass for a fast one). Returns the latencies in seconds."""
    latencies = []
    for i in range(n):
        target, headers = request(i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        begin = time.perf_counter()
        conn.request("GET", target, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - begin
        conn.close()
        if response.status != 200 or expect not in body:
            raise BenchError(f"GET {target} answered {response.status}: {body[:300]!r}")
        latencies.append(elapsed)
    return latencies


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="callauto-bench-usage-") as tmp:
        var_dir = Path(tmp)
        port = free_port()
        env = base_env(var_dir, port)
        print(f"Bench database: {DATABASE_URL}")
        manage(env, "migrate", "--noinput", timeout=300)
        # Pages name their stylesheet through the static manifest, as in production.
        manage(env, "collectstatic", "--noinput", "--verbosity", "0", timeout=300)
        print("Seeding 1,000,000 legs for 100 tenants (about a minute or two)...", flush=True)
        seeded = seed(env)
        print(
            f"Seeded {seeded['legs']:,} legs in {seeded['insert_seconds']} s; "
            f"{seeded['rollups']:,} daily roll-up rows in {seeded['rollup_seconds']} s."
        )
        cookie = f"{seeded['session_cookie']}={seeded['session']}"
        slugs = sorted(seeded["keys"])
        start, end = last_month()

        def platform(i: int) -> tuple[str, dict[str, str]]:
            return "/portal/usage/all/?days=30", {"Cookie": cookie}

        def api(i: int) -> tuple[str, dict[str, str]]:
            slug = slugs[i % len(slugs)]
            target = f"/t/{slug}/api/v1/usage?" + urlencode(
                {"from": start, "to": end, "group": "day"}
            )
            host = f"127.0.0.1:{port}/t/{slug}"
            date = formatdate(usegmt=True)
            return target, sign_headers("GET", target, b"", seeded["keys"][slug], host, date)

        def page(i: int) -> tuple[str, dict[str, str]]:
            slug = slugs[i % len(slugs)]
            query = urlencode({"from": start, "to": end, "group": "day"})
            return f"/portal/usage/all/{slug}/?{query}", {"Cookie": cookie}

        argv = [GUNICORN, "callauto.wsgi", "--worker-class", "sync", "--workers", "2"]
        argv += ["--bind", f"127.0.0.1:{port}", "--no-control-socket"]
        results = {}
        with Service("gunicorn", argv, env, var_dir) as web:
            wait_http_ok(port, "/healthz", web)
            # Every answer must carry data (a bench tenant's name, a category), so an empty
            # report cannot pass for a fast one.
            expected = {"platform": b"bench-usage-000", "api": b'"pstn_outbound"'}
            for name, request in (("platform", platform), ("api", api), ("page", page)):
                expect = expected.get(name, b"PSTN outbound")
                timed(port, request, WARMUP, expect)
                results[name] = timed(port, request, SAMPLES, expect)
                web.check_alive()
    return print_results(results, start, end)


def percentile_ms(latencies: list[float], q: int) -> float:
    return statistics.quantiles(latencies, n=100, method="inclusive")[q - 1] * 1000


def print_results(results: dict[str, list[float]], start: str, end: str) -> int:
    names = {
        "platform": "GET /portal/usage/all/?days=30 (all tenants, 30 days)",
        "api": f"GET /t/<slug>/api/v1/usage {start}..{end} by day",
        "page": "GET /portal/usage/all/<slug>/ same month (page + chart)",
    }
    rows = []
    met = True
    for key, latencies in results.items():
        p95 = percentile_ms(latencies, 95)
        target = TARGETS_MS[key]
        ok = target is None or p95 <= target
        met &= ok
        rows.append(
            (
                names[key],
                len(latencies),
                report.fmt(percentile_ms(latencies, 50)),
                report.fmt(p95),
                report.fmt(max(latencies) * 1000),
                "-" if target is None else f"{target:.0f}",
                "-" if target is None else "met" if ok else "NOT met",
            )
        )
    print(
        report.heading("Usage reports: 1,000,000 legs, 100 tenants, gunicorn sync x2, one client")
    )
    headers = ["request", "n", "p50 ms", "p95 ms", "max ms", "target ms", "p95 vs target"]
    print(report.table(headers, rows))
    print(
        f"Requests one at a time after {WARMUP} warm-up requests each; per-tenant requests"
        " rotate over ten tenants. All read the daily roll-ups, never the 1,000,000 raw legs."
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
