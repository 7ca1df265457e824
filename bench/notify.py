"""Notification benchmark (`make bench-notify`): N households (default 10,000) on the
simulated carrier, one tenant with CPS 50 and 500 concurrent calls, real processes on
real time: gunicorn (web: our callback endpoint), a qcluster (worker: deliveries), the
gateway (simulated carrier, real time) and a dedicated dispatcher process.

Every household answers after 1 s and presses 1 two seconds into the message. Prints:
time until every household was dialled, time until 95 % of answerers acknowledged, peak
calls/s and peak concurrency (both must stay within the caps), households skipped or
dialled twice (must be 0), and the goal: all dialled within 1.1 x N / CPS seconds.

`python -m bench.notify [--households N] [--cps 50 | --sweep 5,10,20,50] [--concurrent 500]
[--port P]`; a sweep runs the campaign once per rate and prints the highest CPS kept
within the bound.
"""

import argparse
import math
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from bench.config import DATABASE_URL, GUNICORN, PYTHON, base_env
from bench.cpu import CpuMeter, per_call_table
from bench.procs import Service, free_port, manage, wait_http_ok

SLUG = "bench-notify"
NUMBERS = [f"+1425555{n:04d}" for n in range(9000, 9010)]  # the caller-ID pool


def setup(args: argparse.Namespace, var_dir: Path, port: int) -> dict[str, str]:
    env = base_env(var_dir, port)
    separator = "&" if "?" in DATABASE_URL else "?"
    env.update(
        # A throwaway bench database: commits need not wait for the disk.
        DATABASE_URL=f"{DATABASE_URL}{separator}options=-c%20synchronous_commit%3Doff",
        MEDIA_CACHE_DIR=str(var_dir / "media-cache"),
        NOTIFICATIONS_CALLBACK_BASE_URL=f"http://127.0.0.1:{port}",
        NOTIFY_KICK_SECONDS="0",  # the dedicated dispatcher process does the pacing
        Q_WORKERS=str(args.workers),
        WEB_CONCURRENCY=str(args.web),
    )
    os.environ.update(env)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    manage(env, "migrate", "--noinput", timeout=600)
    return env


def prepare(count: int, cps: int, concurrent: int):
    """A fresh bench tenant with `count` households and a draft notification to them."""
    from django_q.models import OrmQ

    from calls.models import Call, SimulatedCallee
    from notifications import services
    from notifications.models import Audience, Notification
    from reminders.models import Contact, Suppression
    from tenants import services as tenant_services
    from tenants.models import PhoneNumber, Tenant
    from webhooks.models import Delivery, DisabledEndpoint

    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = tenant_services.create_tenant("Bench notify", SLUG, actor=None)
    for model in (Notification, Audience, Contact, Suppression, SimulatedCallee):
        model.unscoped.filter(tenant=tenant).delete()
    # An interrupted run's callbacks still in the durable outbox would be delivered first
    # (to dials that are gone: 404s) and hold this run's back.
    Delivery.unscoped.filter(tenant=tenant).delete()
    DisabledEndpoint.unscoped.filter(tenant=tenant).delete()
    OrmQ.objects.all().delete()  # their queued delivery tasks (a throwaway bench database)
    Call.unscoped.filter(tenant=tenant).delete()
    Tenant.objects.filter(pk=tenant.pk).update(
        calls_per_second=cps, max_concurrent_calls=concurrent, time_zone="America/New_York"
    )
    tenant.refresh_from_db()
    numbers = []
    for e164 in NUMBERS:
        number = PhoneNumber.unscoped.filter(e164=e164).first()
        numbers.append(number or PhoneNumber.unscoped.create(tenant=tenant, e164=e164))
    phones = [f"+1425{n:07d}" for n in range(count)]
    Contact.unscoped.bulk_create(
        (
            Contact(tenant=tenant, name=f"Household {n}", phone=p, time_zone="America/New_York",
                    area=f"Zone {n % 20}")
            for n, p in enumerate(phones)
        ),
        batch_size=2000,
    )  # fmt: skip
    SimulatedCallee.unscoped.bulk_create(
        (
            SimulatedCallee(tenant=tenant, raw_id=f"4:{p}", answer_after=1.0,
                            keys=[[2, "1", "prompt"]])
            for p in phones
        ),
        batch_size=2000,
    )  # fmt: skip
    audience = services.save_audience(tenant, actor=None, name="Everyone", everyone=True)
    return services.save_notification(
        tenant,
        actor=None,
        name="Bench outage",
        audience=audience,
        # One text for everyone: speech is rendered once, not per household.
        message="Power will be off in your area from 2 to 6 pm.",
        caller_ids=numbers,
        per_number_concurrency=math.ceil(concurrent / len(numbers)),
        life_safety=True,  # quiet hours do not depend on when the bench runs
        max_rounds=1,
        expires_after_minutes=24 * 60,
    )


def start(env: dict[str, str], log_dir: Path, port: int) -> list[Service]:
    web = Service(
        "web",
        [GUNICORN, "callauto.wsgi", "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
         "--no-control-socket", "--name", "bench-notify-web"],
        env, log_dir,
    )  # fmt: skip
    services = [web]
    try:
        wait_http_ok(port, "/healthz", web)
        services.append(Service("worker", [PYTHON, "manage.py", "qcluster"], env, log_dir))
        services.append(
            Service("gateway", [PYTHON, "manage.py", "run_gateway", "--id", "bench"], env, log_dir)
        )
        dispatch = ["dispatch_notifications", "--seconds", "86400", "--stay"]
        services.append(Service("dispatcher", [PYTHON, "manage.py", *dispatch], env, log_dir))
        # Launch only once the dispatcher runs: its start-up is not the pipeline's pace.
        deadline = time.monotonic() + 120
        while "dispatcher up" not in services[-1].log_path.read_text(errors="replace"):
            services[-1].check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("the dispatcher did not start within 120 s")
            time.sleep(0.2)
    except BaseException:
        for service in reversed(services):
            service.stop()
        raise
    return services


def watch(
    notification,
    services: list[Service],
    limit: float,
    until_dialled: bool = False,
    meter: CpuMeter | None = None,
) -> float:
    """Print progress every 10 s until every recipient is done (`until_dialled`: until
    every one was dialled); the wall time taken."""
    from notifications import progress

    started = time.monotonic()
    while time.monotonic() - started < limit:
        for service in services:
            service.check_alive()
        state = progress.progress(notification)
        elapsed = time.monotonic() - started
        if int(elapsed) % 10 == 0:
            print(
                f"  t={elapsed:6.0f} s  dialled {state['dialled']:6d}  in flight "
                f"{state['inFlight']:4d}  acknowledged {state['acknowledged']:6d}  "
                f"calls/s {state['callsPerSecond']:5.1f}",
                flush=True,
            )
        if state["total"] and state["remaining"] == 0 and state["inFlight"] == 0:
            break
        if until_dialled and state["total"] and state["remaining"] == 0:
            break
        if meter is not None:
            meter.sample()
        time.sleep(1.0)
    return time.monotonic() - started


def figures(notification, count: int) -> dict:
    from notifications.models import Dial, Recipient

    dials = list(
        Dial.unscoped.filter(notification=notification).values_list(
            "recipient_id", "dialed_at", "connected_at", "ended_at"
        )
    )
    start = notification.started_at
    per_recipient = Counter(d[0] for d in dials)
    per_second = Counter(int((d[1] - start).total_seconds()) for d in dials)
    edges = sorted(
        [(d[1], 1) for d in dials] + [(d[3] or d[1] + timedelta(days=1), -1) for d in dials]
    )
    live = peak_live = 0
    for _, step in edges:
        live += step
        peak_live = max(peak_live, live)
    acks = sorted(
        Recipient.unscoped.filter(
            notification=notification, acknowledged_at__isnull=False
        ).values_list("acknowledged_at", flat=True)
    )
    answerers = len({d[0] for d in dials if d[2] is not None})
    ended = sum(1 for d in dials if d[3] is not None)
    p95 = (
        acks[math.ceil(0.95 * answerers) - 1]
        if answerers and len(acks) >= 0.95 * answerers
        else None
    )
    return {
        "households": count,
        "dialled": len(per_recipient),
        "skipped": count - len(per_recipient),
        "dialled_twice": sum(1 for n in per_recipient.values() if n > 1),
        "all_dialled_s": (max(d[1] for d in dials) - start).total_seconds() if dials else None,
        "ack95_s": (p95 - start).total_seconds() if p95 else None,
        "answerers": answerers,
        "ended": ended,
        "acknowledged": len(acks),
        "peak_cps": max(per_second.values()) if per_second else 0,
        "peak_concurrent": peak_live,
    }


def run(args: argparse.Namespace, env: dict[str, str], var_dir: Path, port: int, cps: int):
    """One campaign at `cps`: fresh households, fresh processes; its figures and wall time."""
    from notifications import services as notify

    notification = prepare(args.households, cps, args.concurrent)
    print(f"{args.households} households, CPS {cps}, {args.concurrent} concurrent; logs "
          f"in {var_dir}", flush=True)  # fmt: skip
    log_dir = var_dir / f"cps-{cps}"
    log_dir.mkdir(exist_ok=True)
    services = start(env, log_dir, port)
    try:
        meter = CpuMeter(
            {s.name: s.process.pid for s in services},
            _database_name(),
            # The bench's own session polls progress every second: its cost is not a call's.
            pids={"postgresql (bench's progress polls)": _backend_pid()},
        )
        notify.launch(notification.tenant, notification.pk, actor=None)
        notification.refresh_from_db()
        wall = watch(notification, services, args.limit, args.until_dialled, meter)
        meter.sample()
    finally:
        for service in reversed(services):
            service.stop()
    result = figures(notification, args.households)
    result["cpu"] = meter.totals()
    return result, wall


def _database_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


def _backend_pid() -> int:
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.info.backend_pid


def report(args: argparse.Namespace, cps: int, result: dict, wall: float) -> bool:
    goal = 1.1 * args.households / cps
    print()
    print(f"| notifications (CPS {cps}, {args.concurrent} concurrent, real time) | value |")
    print("| --- | --- |")
    rows = [
        ("households / dialled", f"{result['households']} / {result['dialled']}"),
        ("skipped / dialled twice", f"{result['skipped']} / {result['dialled_twice']}"),
        ("time until every household was dialled",
         f"{result['all_dialled_s']:.0f} s (goal ≤ {goal:.0f} s)" if result["all_dialled_s"]
         is not None else "—"),
        ("time until 95 % of answerers acknowledged",
         f"{result['ack95_s']:.0f} s" if result["ack95_s"] is not None else "—"),
        ("answerers / acknowledged", f"{result['answerers']} / {result['acknowledged']}"),
        ("peak calls in one second", f"{result['peak_cps']} (cap {cps})"),
        ("peak concurrent calls", f"{result['peak_concurrent']} (cap {args.concurrent})"),
        ("wall time", f"{wall:.0f} s"),
        # The machine may be shared: a figure means little without its load.
        ("load average (1, 5, 15 min) at the end",
         " / ".join(f"{x:.1f}" for x in os.getloadavg())),
    ]  # fmt: skip
    for name, value in rows:
        print(f"| {name} | {value} |", flush=True)
    # What a call costs each process: the ceiling the cores set, whatever the pipeline does.
    print()
    print(f"CPU while the campaign ran ({result['ended']} calls ended, {wall:.0f} s):")
    for row in per_call_table(result["cpu"], result["ended"], wall):
        print(row, flush=True)
    ok = (
        result["skipped"] == 0
        and result["dialled_twice"] == 0
        and result["peak_cps"] <= cps
        and result["peak_concurrent"] <= args.concurrent
    )
    if not ok:
        print("A cap was exceeded, or a household was skipped or dialled twice.", file=sys.stderr)
    return ok


def within_bound(args: argparse.Namespace, cps: int, result: dict) -> bool:
    dialled = result["all_dialled_s"]
    return dialled is not None and dialled <= 1.1 * args.households / cps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--cps", type=int, default=50)
    parser.add_argument(
        "--sweep",
        default="",
        help="comma-separated CPS values run one after the other (e.g. 5,10,20,50); the "
        "sweep stops after the first rate that misses the bound (higher ones miss it more)",
    )
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument(
        "--until-dialled",
        action="store_true",
        help="stop once every household was dialled (the dial pace only: no 95 %% figure)",
    )
    parser.add_argument("--workers", type=int, default=4, help="qcluster workers")
    parser.add_argument("--web", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=0, help="web port (default: a free one)")
    parser.add_argument("--limit", type=float, default=4 * 3600, help="give up after (s)")
    args = parser.parse_args()
    port = args.port or free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="callauto-bench-notify-"))
    env = setup(args, var_dir, port)
    rates = [int(r) for r in args.sweep.split(",") if r.strip()] or [args.cps]
    ok, summary = True, []
    for cps in rates:
        result, wall = run(args, env, var_dir, port, cps)
        ok = report(args, cps, result, wall) and ok
        summary.append((cps, result, within_bound(args, cps, result)))
        if not summary[-1][2] and cps != rates[-1]:
            print(f"CPS {cps} missed the bound: the higher rates are not run.", flush=True)
            break
    if len(rates) > 1:
        print()
        print(f"| CPS | all dialled (s) | bound 1.1 x {args.households} / CPS (s) | 95 % acked (s) "
              "| peak calls/s | peak concurrent | skipped / twice |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for cps, result, _ in summary:
            dialled, ack = result["all_dialled_s"], result["ack95_s"]
            print(f"| {cps} | {dialled if dialled is None else round(dialled)} | "
                  f"{1.1 * args.households / cps:.0f} | {ack if ack is None else round(ack)} | "
                  f"{result['peak_cps']} | {result['peak_concurrent']} | "
                  f"{result['skipped']} / {result['dialled_twice']} |")  # fmt: skip
        sustained = [cps for cps, _, inside in summary if inside]
        print(f"Highest CPS sustained within the bound: {max(sustained) if sustained else 'none'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
