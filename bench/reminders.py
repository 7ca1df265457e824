"""Reminder campaign benchmark: 10,000 appointments due in the same minute for one tenant
with 20 calls per second and 200 concurrent calls.

Runs in one process against PostgreSQL (BENCH_DATABASE_URL), on virtual time: the real
Gateway drives the simulated carrier on a VirtualClock, wall-clock time is moved with it
(time-machine), and each virtual second the real dispatcher ticks once. Every CloudEvent
goes through the real delivery code (claim, JWT and webhook signatures, record) to the
real reminders callback endpoint (JWT check, call flow); only the HTTP hop is in-process
(httpx's WSGI transport instead of a socket), so the run takes minutes, not hours.

Prints: virtual time to dispatch and to complete all, peak concurrent calls and the
highest calls-per-second seen (both must stay within the caps), dispatcher CPU per call
(this process's CPU inside dispatcher.tick, which includes create_call; PostgreSQL's own
CPU is not counted), and the wall time. `python -m bench.reminders [--appointments N]`.
"""

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bench.config import base_env

if TYPE_CHECKING:  # Django is set up at run time (setup_django)
    from tenants.models import Tenant

CPS = 20
MAX_CONCURRENT = 200
SLUG = "bench-reminders"
CALLER = "+14255550190"
# A Tuesday, 10:00 in New York: inside the plan's window.
START = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
MAX_VIRTUAL_SECONDS = 6 * 3600


def setup_django() -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="callauto-bench-reminders-"))
    os.environ.update(base_env(var_dir, 8000))
    os.environ["DELIVERY_LOOPS"] = "0"  # no cluster here: delivery tasks run inline
    # A throwaway bench database: commits need not wait for the disk (the default bench
    # database setting is unchanged for everything else).
    separator = "&" if "?" in os.environ["DATABASE_URL"] else "?"
    os.environ["DATABASE_URL"] += f"{separator}options=-c%20synchronous_commit%3Doff"
    os.environ["MEDIA_CACHE_DIR"] = str(var_dir / "media-cache")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def prepare(count: int) -> "Tenant":
    """A fresh bench tenant with `count` appointments all due at START."""
    from calls.models import Call, SimulatedCallee
    from reminders.models import Appointment, Attempt, Contact, ImportJob, ReminderPlan
    from tenants import services as tenant_services
    from tenants.models import PhoneNumber, Tenant

    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = tenant_services.create_tenant("Bench reminders", SLUG, actor=None)
    for model in (Attempt, Appointment, ImportJob, Contact, ReminderPlan, SimulatedCallee):
        model.unscoped.filter(tenant=tenant).delete()
    Call.unscoped.filter(tenant=tenant).delete()
    Tenant.objects.filter(pk=tenant.pk).update(
        calls_per_second=CPS, max_concurrent_calls=MAX_CONCURRENT, time_zone="America/New_York"
    )
    tenant.refresh_from_db()
    number = PhoneNumber.unscoped.filter(e164=CALLER).first() or PhoneNumber.unscoped.create(
        tenant=tenant, e164=CALLER
    )
    plan = ReminderPlan.unscoped.create(
        tenant=tenant,
        name="Bench",
        offsets_minutes=[120],
        caller_id=number,
        weekdays=list(range(7)),
    )
    phones = [f"+1425555{n:04d}" for n in range(count)]
    contacts = Contact.unscoped.bulk_create(
        Contact(tenant=tenant, name="Pat Bench", phone=p, time_zone="America/New_York")
        for p in phones
    )
    Appointment.unscoped.bulk_create(
        Appointment(
            tenant=tenant,
            contact=c,
            plan=plan,
            external_id=f"bench-{n}",
            starts_at=START + timedelta(minutes=90),
            provider="Dr. Bench",
            location="Bench Street",
            next_attempt_at=START + timedelta(seconds=n % 60),
        )
        for n, c in enumerate(contacts)
    )
    # Each callee answers after 1 s and presses 1 ten seconds into the menu prompt: a call
    # lasts ~15 s, so 20 calls/s would need ~300 at once and the 200 cap is what binds.
    SimulatedCallee.unscoped.bulk_create(
        SimulatedCallee(tenant=tenant, raw_id=f"4:{p}", keys=[[10, "1", "prompt"]]) for p in phones
    )
    return tenant


def in_process_http() -> None:
    """Deliveries POST through Django's WSGI app in this process instead of a socket."""
    import httpx
    from django.core.wsgi import get_wsgi_application

    from webhooks import delivery

    client = httpx.Client(transport=httpx.WSGITransport(app=get_wsgi_application()))
    delivery.http_client = lambda: client


def run(count: int) -> dict:
    import time_machine
    from django_q.conf import Conf

    from calls.gateway import Gateway
    from calls.models import Call
    from carrier.interface import VirtualClock
    from carrier.simulated.driver import SimulatedCarrier
    from reminders import dispatcher
    from reminders.models import Appointment, Attempt

    Conf.SYNC = True  # delivery tasks run inline when the change that made them commits
    Conf.SAVE_LIMIT = -1  # and keep no result rows (a cluster's bookkeeping, not ours)
    in_process_http()
    clock = VirtualClock()
    carrier = SimulatedCarrier(clock)
    gateway = Gateway(carrier)

    def advance(seconds: float) -> None:
        end = clock.now() + seconds
        while True:
            while gateway.step():
                pass
            upcoming = carrier.next_event_at()
            if upcoming is None or upcoming > end:
                break
            clock.advance_to(upcoming)
        clock.advance_to(end)
        while gateway.step():
            pass

    with time_machine.travel(START - timedelta(seconds=1), tick=False) as traveller:
        tenant = prepare(count)
        print(f"{count} appointments due between {START:%H:%M:%S} and +59 s (UTC); running…")
        wall = time.monotonic()
        tick_cpu = 0.0
        peak_live = peak_cps = seconds = 0
        while seconds < MAX_VIRTUAL_SECONDS:
            traveller.shift(1)
            seconds += 1
            before = time.thread_time()
            placed = dispatcher.tick(tenant)
            tick_cpu += time.thread_time() - before
            peak_cps = max(peak_cps, placed)
            live = Call.objects.for_tenant(tenant).exclude(state=Call.State.DISCONNECTED).count()
            peak_live = max(peak_live, live)
            advance(1.0)
            if seconds % 60 == 0:
                done = Attempt.objects.for_tenant(tenant).filter(state="ended").count()
                print(
                    f"  t={seconds:5d} s  ended {done:6d}  live {live:4d}  "
                    f"wall {time.monotonic() - wall:7.1f} s",
                    flush=True,
                )
            pending = Appointment.objects.for_tenant(tenant).filter(next_attempt_at__isnull=False)
            in_flight = Attempt.objects.for_tenant(tenant).exclude(state="ended")
            if not pending.exists() and not in_flight.exists():
                break
        wall = time.monotonic() - wall
    attempts = Attempt.objects.for_tenant(tenant)
    per_second = Counter(
        int((d - START).total_seconds()) for d in attempts.values_list("dialed_at", flat=True)
    )
    last_dial = max(attempts.values_list("dialed_at", flat=True))
    last_end = max(attempts.values_list("ended_at", flat=True))
    placed_calls = attempts.exclude(dialed_at=None).count()
    return {
        "appointments": count,
        "calls": placed_calls,
        "dispositions": dict(Counter(attempts.values_list("disposition", flat=True))),
        "dispatch_s": (last_dial - START).total_seconds(),
        "complete_s": (last_end - START).total_seconds(),
        "peak_concurrent": peak_live,
        "peak_cps_tick": peak_cps,
        "peak_cps_rows": max(per_second.values()),
        "tick_cpu_ms_per_call": 1000 * tick_cpu / max(placed_calls, 1),
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=10_000)
    args = parser.parse_args()
    setup_django()
    result = run(args.appointments)
    within = result["peak_concurrent"] <= MAX_CONCURRENT and result["peak_cps_rows"] <= CPS
    print()
    print(f"| reminders (CPS {CPS}, {MAX_CONCURRENT} concurrent) | value |")
    print("| --- | --- |")
    rows = [
        ("appointments / calls placed", f"{result['appointments']} / {result['calls']}"),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(result["dispositions"].items()))),
        ("virtual time to dispatch all", f"{result['dispatch_s']:.0f} s"),
        ("virtual time to complete all", f"{result['complete_s']:.0f} s"),
        ("peak concurrent calls", f"{result['peak_concurrent']} (cap {MAX_CONCURRENT})"),
        ("peak calls in one second", f"{result['peak_cps_rows']} (cap {CPS})"),
        ("dispatcher CPU per call", f"{result['tick_cpu_ms_per_call']:.2f} ms"),
        ("wall time", f"{result['wall_s']:.0f} s"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    if not within:
        print("A cap was exceeded.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
