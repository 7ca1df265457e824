"""Reminder campaign in real time: `make bench-campaign` (`python -m bench.campaign`).

The real processes on 127.0.0.1, against BENCH_DATABASE_URL: gunicorn (the API and the
reminders app's own callback endpoint), `manage.py qcluster` (workers and the delivery
loop), `manage.py run_gateway` (the simulated carrier in real time) and the dispatcher
(`reminders.dispatcher.run`, as the minute schedule runs it, started at once here). N
appointments are due one slot apart at RATE per second for one tenant with
calls_per_second=RATE and max_concurrent_calls=200; each simulated callee answers after
1 s and presses 1 a second into the prompt. Every event reaches the reminders app as a
signed callback over HTTP. Printed: calls placed, lost (no attempt), duplicated (more
than one attempt for a slot), placement lag = dialed_at - due_at (p50, p99, max; goal:
p99 <= 2 s), the placement rate reached, peak concurrent calls, outcomes.

`python -m bench.campaign [--appointments N] [--rate R]`; the default is the issue's
2,000 at 20/s. A smaller N (e.g. 200) gives a quick reading.
"""

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import report
from bench.config import DATABASE_URL, GUNICORN, JSON_MARKER, PYTHON, ROOT, base_env
from bench.cpu import CpuMeter, per_call_table
from bench.procs import BenchError, Service, free_port, manage, wait_http_ok

SLUG = "bench-campaign"
CALLER = "+14255550191"
MAX_CONCURRENT = 200
LAG_GOAL = 2.0  # seconds, p99
LEAD = 45.0  # seconds between setting up and the first slot (processes boot meanwhile)
TAIL = 120.0  # seconds after the last slot to wait for the calls to end
OUT = ROOT / "bench" / "out"  # flame graphs (git-ignored)


def prepare(count: int, rate: float, first_slot: float) -> None:
    """(In `manage.py shell`.) A fresh tenant with `count` appointments due at `rate`/s."""
    from datetime import UTC, datetime, timedelta
    from datetime import time as dtime

    from calls.models import Call, SimulatedCallee
    from reminders.models import Appointment, Attempt, Contact, ImportJob, ReminderPlan
    from tenants import services as tenant_services
    from tenants.models import PhoneNumber, Tenant
    from webhooks.models import Delivery

    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        tenant = tenant_services.create_tenant("Bench campaign", SLUG, actor=None)
    for model in (Attempt, Appointment, ImportJob, Contact, ReminderPlan, SimulatedCallee):
        model.unscoped.filter(tenant=tenant).delete()
    Call.unscoped.filter(tenant=tenant).delete()
    Delivery.unscoped.filter(tenant=tenant).delete()  # an earlier run's, to a dead port
    zone = midday_zone(first_slot)
    Tenant.objects.filter(pk=tenant.pk).update(
        calls_per_second=int(rate), max_concurrent_calls=MAX_CONCURRENT, time_zone=zone
    )
    number = PhoneNumber.unscoped.filter(e164=CALLER).first() or PhoneNumber.unscoped.create(
        tenant=tenant, e164=CALLER
    )
    start = datetime.fromtimestamp(first_slot, UTC)
    plan = ReminderPlan.unscoped.create(
        tenant=tenant, name="Bench", offsets_minutes=[60], caller_id=number,
        weekdays=list(range(7)), window_start=dtime(0, 0), window_end=dtime(23, 59, 59),
    )  # fmt: skip
    phones = [f"+1425556{n:04d}" for n in range(count)]
    contacts = Contact.unscoped.bulk_create(
        Contact(tenant=tenant, name="Pat Bench", phone=p, time_zone=zone) for p in phones
    )
    appointments = [
        Appointment(
            tenant=tenant,
            contact=c,
            plan=plan,
            external_id=f"campaign-{n}",
            starts_at=start + timedelta(minutes=60),
            provider="Dr. Bench",
            location="Bench Street",
            next_attempt_at=start + timedelta(seconds=n / rate),
        )
        for n, c in enumerate(contacts)
    ]
    Appointment.unscoped.bulk_create(appointments)
    SimulatedCallee.unscoped.bulk_create(
        SimulatedCallee(tenant=tenant, raw_id=f"4:{p}", keys=[[1, "1", "prompt"]]) for p in phones
    )
    print(JSON_MARKER + json.dumps({"tenant_id": tenant.pk}), flush=True)


def midday_zone(instant: float) -> str:
    """A fixed-offset zone where `instant` is about noon: reminders call only 08:00-21:00
    local (campaigns.quiet_hours), and the bench must not depend on when it is run (in UTC
    after 21:00 every appointment was skipped as outside its window)."""
    from datetime import UTC, datetime

    offset = 12 - datetime.fromtimestamp(instant, UTC).hour  # -11 .. +12 hours
    # The Etc/ zones' signs are POSIX-style, inverted: Etc/GMT-3 is UTC+3.
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def shift_if_late(first_slot: float) -> None:
    """(In the dispatcher process, before it starts.) On a machine so busy that the
    processes booted past the first slot, move every slot by the delay: the pacing allows
    no more than the plan's rate, so a late start would otherwise show as lag on every
    call, measuring the boot rather than the pipeline."""
    from datetime import timedelta

    from django.db.models import F

    from reminders.models import Appointment

    late = time.time() - first_slot
    if late > 0.5:
        Appointment.unscoped.filter(tenant__slug=SLUG, next_attempt_at__isnull=False).update(
            next_attempt_at=F("next_attempt_at") + timedelta(seconds=late)
        )
        print(f"slots moved {late:.1f} s later: the processes booted late", flush=True)


PROGRESS_SQL = """
SELECT
  (SELECT count(*) FROM reminders_attempt WHERE tenant_id = %(t)s AND dialed_at IS NOT NULL),
  (SELECT count(*) FROM reminders_attempt WHERE tenant_id = %(t)s AND state = 'ended'),
  (SELECT count(*) FROM calls_call WHERE tenant_id = %(t)s AND state <> 'disconnected'),
  (SELECT count(*) FROM reminders_appointment
    WHERE tenant_id = %(t)s AND next_attempt_at IS NOT NULL)
"""


def progress_now(db, tenant_id: int) -> dict:
    """Where the campaign stands, read over one kept connection (a `manage.py shell` per
    sample cost a Django boot, a second of CPU, every 5 s on the machine under test)."""
    placed, ended, live, waiting = db.execute(PROGRESS_SQL, {"t": tenant_id}).fetchone()
    return {"placed": placed, "ended": ended, "live": live, "waiting": waiting}


def results() -> None:
    """(In `manage.py shell`.) Lags, losses, duplicates and outcomes, as one JSON line."""
    from collections import Counter
    from datetime import datetime

    from reminders.models import Appointment, Attempt
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    rows = list(
        Attempt.objects.for_tenant(tenant).values_list(
            "appointment_id", "reminder_index", "due_at", "dialed_at", "disposition"
        )
    )
    per_slot = Counter((a, r) for a, r, *_ in rows)
    appointments = Appointment.objects.for_tenant(tenant).count()
    dialed = [(d, due) for _, _, due, d, _ in rows if d is not None]
    lags = sorted((d - due).total_seconds() for d, due in dialed)
    times = sorted(d.timestamp() for d, _ in dialed)
    # Event made (its `time`) -> applied by the reminders app (`received`): the delivery
    # pipeline's share of each call step.
    callback_lags = sorted(
        (datetime.fromisoformat(e["received"]) - datetime.fromisoformat(e["time"])).total_seconds()
        for events in Attempt.objects.for_tenant(tenant).values_list("events", flat=True)
        for e in events
        if e.get("time") and e.get("received")
    )
    out = {
        "callback_lags": callback_lags,
        "steps": _step_times(tenant),
        "appointments": appointments,
        "placed": len(dialed),
        "lost": appointments - len({a for a, *_ in rows}),
        "duplicated": sum(n - 1 for n in per_slot.values() if n > 1),
        "lags": lags,
        "span": (times[-1] - times[0]) if len(times) > 1 else 0.0,
        "outcomes": dict(Counter(d or "(none)" for *_, d in rows)),
    }
    print(JSON_MARKER + json.dumps(out), flush=True)


def _step_times(tenant) -> dict:
    """(In `manage.py shell`.) Where a call's time goes, from each attempt's event log
    (`time`: the engine made the event; `received`: the app applied it): the gateway's
    steps (dial -> CallConnected made, ~1 s scripted; CallConnected applied ->
    RecognizeCompleted made, ~1 s scripted) against the callback path's."""
    from datetime import datetime

    from reminders.models import Attempt

    steps: dict[str, list[float]] = {"dial_to_connected": [], "menu_to_key": []}
    rows = Attempt.objects.for_tenant(tenant).values_list("dialed_at", "events")
    for dialed_at, events in rows:
        kinds = {e.get("type"): e for e in events}
        answered, key = kinds.get("CallConnected"), kinds.get("RecognizeCompleted")
        if dialed_at and answered:
            made = datetime.fromisoformat(answered["time"])
            steps["dial_to_connected"].append((made - dialed_at).total_seconds())
        if answered and key:
            applied = datetime.fromisoformat(answered["received"])
            made = datetime.fromisoformat(key["time"])
            steps["menu_to_key"].append((made - applied).total_seconds())
    return {name: statistics.median(v) if v else 0.0 for name, v in steps.items()}


def shell_json(env: dict[str, str], code: str) -> dict:
    out = manage(env, "shell", "-c", f"from bench import campaign; {code}", timeout=300)
    for line in out.splitlines():
        if line.startswith(JSON_MARKER):
            return json.loads(line.removeprefix(JSON_MARKER))
    raise BenchError(f"{code} printed no result:\n{out[-1500:]}")


def run(
    count: int, rate: float, web_workers: int = 4, profile: float = 0, gateways: int = 1
) -> dict:
    var_dir = Path(tempfile.mkdtemp(prefix="callauto-campaign-"))
    port = free_port()
    env = base_env(var_dir, port)
    env["MEDIA_CACHE_DIR"] = str(var_dir / "media-cache")
    manage(env, "migrate", "--noinput", timeout=300)
    first_slot = time.time() + LEAD
    tenant_id = shell_json(env, f"campaign.prepare({count}, {rate}, {first_slot})")["tenant_id"]
    last_slot = first_slot + count / rate
    web = [GUNICORN, "callauto.wsgi", "--worker-class", "sync", "--workers", str(web_workers)]
    web += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "--name", "campaign-web"]
    # The dispatcher process boots now and waits for the first slot (run() returns at once
    # when nothing is due yet).
    dispatch = (
        "import time; from reminders import dispatcher; from bench import campaign; "
        f"time.sleep(max(0.0, {first_slot} - time.time())); "
        f"campaign.shift_if_late({first_slot}); "
        f"dispatcher.run(seconds={last_slot - first_slot + TAIL:.0f})"
    )
    peak_live = 0
    with (
        psycopg.connect(DATABASE_URL, autocommit=True) as db,
        Service("campaign-web", web, env, var_dir) as gunicorn,
        Service("campaign-qcluster", [PYTHON, "manage.py", "qcluster"], env, var_dir,
                grace=5) as qcluster,
        Service("campaign-gateway", [PYTHON, "manage.py", "run_gateway"], env, var_dir) as gw,
        contextlib.ExitStack() as more_gateways,
    ):  # fmt: skip
        extra_gateways = {}
        for n in range(2, gateways + 1):
            # Each owns the calls whose first command it ran (commands are claimed SKIP
            # LOCKED), so the simulated calls spread over the gateway processes.
            argv = [PYTHON, "manage.py", "run_gateway", "--id", f"gateway-{n}"]
            extra_gateways[f"gateway-{n}"] = more_gateways.enter_context(
                Service(f"campaign-gateway-{n}", argv, env, var_dir)
            )
        wait_http_ok(port, "/healthz", gunicorn, seconds=LEAD)  # slow boots on a busy machine
        with Service("campaign-dispatcher", [PYTHON, "manage.py", "shell", "-c", dispatch],
                     env, var_dir) as dispatcher:  # fmt: skip
            groups = {"web": gunicorn, "qcluster": qcluster, "gateway": gw}
            groups.update(extra_gateways, dispatcher=dispatcher)
            meter = CpuMeter(
                {name: svc.process.pid for name, svc in groups.items()},
                psycopg.conninfo.conninfo_to_dict(DATABASE_URL)["dbname"],
                pids={"postgresql (bench's progress polls)": db.info.backend_pid},
            )
            metered_from = time.monotonic()
            spies = []
            if profile:
                time.sleep(max(0.0, first_slot - time.time()))
                targets = {"web": gunicorn, "qcluster": qcluster, "gateway": gw}
                spies = [
                    flame(name, svc.process.pid, profile, rate) for name, svc in targets.items()
                ]
            deadline = last_slot + TAIL
            while time.time() < deadline:
                now = progress_now(db, tenant_id)
                peak_live = max(peak_live, now["live"])
                meter.sample()
                print(f"  t={time.time() - first_slot:6.0f} s  {now}", flush=True)
                if now["waiting"] == 0 and now["ended"] >= now["placed"] and now["live"] == 0:
                    break
                time.sleep(5)
            for spy in spies:
                spy.wait(timeout=60)
            meter.sample()
            cpu, cpu_wall, ended = meter.totals(), time.monotonic() - metered_from, now["ended"]
    out = shell_json(env, "campaign.results()")
    out["cpu"] = per_call_table(cpu, ended, cpu_wall)
    out["cpu_title"] = (
        f"CPU from the dispatcher's start to the end ({ended} calls ended, {cpu_wall:.0f} s):"
    )
    out["peak_live"] = peak_live
    out["logs"] = str(var_dir)
    return out


def flame(name: str, pid: int, seconds: float, rate: float) -> subprocess.Popen:
    """py-spy samples `pid` and its children for `seconds` into bench/out/ (an SVG flame
    graph; 20 samples/s keeps the profiler's own CPU small on a busy machine)."""
    OUT.mkdir(exist_ok=True)
    svg = OUT / f"flame-campaign-{rate:g}cps-{name}.svg"
    argv = [str(Path(PYTHON).with_name("py-spy")), "record", "--pid", str(pid), "--subprocesses"]
    argv += ["--rate", "20", "--duration", f"{seconds:.0f}", "--output", str(svg)]
    print(f"  profiling {name} (pid {pid}) for {seconds:.0f} s -> {svg}", flush=True)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def verdict(out: dict, rate: float) -> tuple[bool, float, list[tuple[str, str]]]:
    """Whether one run met the goal, the placement rate it reached, and its report rows."""
    lags = out["lags"]

    def pct(values: list[float], q: int) -> float:
        if len(values) < 2:
            return 0.0
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    cb = out["callback_lags"]
    reached = (out["placed"] - 1) / out["span"] if out["span"] else float("nan")
    met = pct(lags, 99) <= LAG_GOAL and out["lost"] == 0 and out["duplicated"] == 0
    lag = f"{pct(lags, 50):.2f} / {pct(lags, 99):.2f} / {max(lags, default=0):.2f} s"
    rows = [
        ("appointments / calls placed", f"{out['appointments']} / {out['placed']}"),
        ("lost (no attempt) / duplicated", f"{out['lost']} / {out['duplicated']}"),
        ("placement lag p50 / p99 / max", lag),
        (
            "event -> applied by the reminders app p50 / p99",
            f"{pct(cb, 50):.2f} / {pct(cb, 99):.2f} s",
        ),
        (
            "gateway steps p50: dial -> answered / menu -> key (~1 s each scripted)",
            f"{out['steps']['dial_to_connected']:.2f} / {out['steps']['menu_to_key']:.2f} s",
        ),
        ("placement rate reached", f"{report.fmt(reached)} calls/s (offered {rate:g})"),
        ("peak concurrent calls (5 s samples)", f"{out['peak_live']} (cap {MAX_CONCURRENT})"),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(out["outcomes"].items()))),
        (f"goal: p99 <= {LAG_GOAL:g} s, 0 lost, 0 duplicated", "met" if met else "NOT met"),
    ]
    return met, reached, rows


def sweep_rates(headline: float, spec: str) -> list[float]:
    """The sweep's rates below the headline's, lowest first (a rate at or above a missed
    headline would only miss again)."""
    rates = sorted({float(r) for r in spec.split(",") if r.strip()})
    return [r for r in rates if r < headline]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--gateways", type=int, default=1, help="run_gateway processes")
    parser.add_argument(
        "--profile", type=float, default=0, metavar="SECONDS",
        help="py-spy flame graphs of the web, qcluster and gateway processes from the first "
        "slot on, into bench/out/",
    )  # fmt: skip
    parser.add_argument(
        "--sweep", default="", metavar="RATES",
        help="when the headline run misses the goal, run --sweep-appointments at each of these "
        "calls/s (lowest first, stopping at the first miss) and print the highest kept",
    )  # fmt: skip
    parser.add_argument("--sweep-appointments", type=int, default=600)
    args = parser.parse_args()
    runs: list[tuple[float, int, bool, float]] = []
    plan = [(args.rate, args.appointments)]
    while plan:
        rate, count = plan.pop(0)
        print(f"{count} reminders, one slot every {1 / rate:.3f} s, "
              f"{args.web_workers} web workers, {args.gateways} gateway(s); booting…")  # fmt: skip
        try:
            out = run(count, rate, args.web_workers, args.profile, args.gateways)
        except BenchError as exc:
            print(f"campaign bench failed: {exc}", file=sys.stderr)
            return 1
        met, reached, rows = verdict(out, rate)
        print(report.table(["campaign in real time", "value"], rows))
        # What a call costs each process: the ceiling the cores set, whatever the pipeline does.
        print(out["cpu_title"])
        print("\n".join(out["cpu"]))
        print(f"(process logs in {out['logs']})")
        runs.append((rate, count, met, reached))
        if len(runs) == 1 and not met:
            plan = [(r, args.sweep_appointments) for r in sweep_rates(rate, args.sweep)]
        elif len(runs) > 1 and not met:
            plan = []  # a higher rate would miss too
    if len(runs) > 1:
        print("\n| calls/s offered | reminders | rate reached | p99 <= 2 s, 0 lost, 0 duplicated |")
        print("| --- | --- | --- | --- |")
        for rate, count, met, reached in runs:
            print(f"| {rate:g} | {count} | {report.fmt(reached)} | {'met' if met else 'NOT met'} |")
        kept = [rate for rate, _, met, _ in runs if met]
        print(f"Highest calls/s sustained within the goal: {f'{max(kept):g}' if kept else 'none'}")
    return 0 if runs[0][2] else 2


if __name__ == "__main__":
    sys.exit(main())
