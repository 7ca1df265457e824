"""Exactly once per contact per round, whatever crashes: real dispatcher processes
(`manage.py dispatch_notifications`) on PostgreSQL, two at once, one of them SIGKILLed
mid-launch and a fresh one started; afterwards every recipient has exactly one dial and
one engine call, and the calls-per-second cap held throughout. And a launching process
SIGKILLed inside the audience's materialisation leaves a draft that launches again."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, transaction

from calls.models import Call, CallConnection
from notifications import dispatcher, services
from notifications.models import Dial, Recipient
from reminders.models import Contact
from tests.notifications.conftest import household

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
HOUSEHOLDS = 120
CPS = 15


def start_dispatcher() -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "dispatch_notifications", "--seconds", "60", "--stay"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    assert "dispatcher up" in process.stdout.readline()
    return process


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=20)


def wait_for(condition, seconds: float = 60) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.2)


def test_a_dispatcher_killed_mid_launch_neither_skips_nor_double_dials(acme, notify):
    acme.calls_per_second = CPS
    acme.max_concurrent_calls = 1000  # no gateway runs: every call stays up
    acme.save()
    for n in range(1, HOUSEHOLDS + 1):
        household(acme, n)
    # Life-safety: quiet hours do not depend on when the test runs.
    notification = notify(life_safety=True, per_number_concurrency=1000)
    services.launch(acme, notification.pk, actor=None)
    dials = Dial.objects.for_tenant(acme)
    first, second = start_dispatcher(), start_dispatcher()
    try:
        wait_for(lambda: dials.count() >= 30)
        kill(first)  # mid-tick, most likely: whatever it had not committed is gone
        third = start_dispatcher()
        try:
            wait_for(lambda: not Recipient.objects.for_tenant(acme).filter(state="waiting"))
        finally:
            kill(third)
    finally:
        kill(first)
        kill(second)

    per_recipient = Counter(dials.values_list("recipient_id", flat=True))
    assert len(per_recipient) == HOUSEHOLDS  # nobody skipped
    assert set(per_recipient.values()) == {1}  # nobody dialled twice
    assert Call.objects.for_tenant(acme).count() == HOUSEHOLDS  # no call without its dial
    connections = set(
        CallConnection.objects.for_tenant(acme).values_list("call_connection_id", flat=True)
    )
    assert set(dials.values_list("call_connection_id", flat=True)) == connections
    per_second = Counter(
        d.replace(microsecond=0) for d in dials.values_list("dialed_at", flat=True)
    )
    assert max(per_second.values()) <= CPS


def lock_waiters(*, terminate: bool = False) -> int:
    """The other sessions of this database waiting on a lock (`terminate`: end them)."""
    with connection.cursor() as cursor:
        # Inside a transaction the activity view is a snapshot taken once: refresh it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            f"SELECT {'pg_terminate_backend(pid)' if terminate else 'pid'} FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid()"
        )
        return len(cursor.fetchall())


def test_a_launch_killed_mid_way_leaves_a_draft_and_a_relaunch_dials_each_once(acme, notify):
    """kill -9 of the process launching: the launch is one transaction, so the audience is
    either all materialised or not at all. The test holds the last contact's row, so the
    launch blocks at its COMMIT, after every recipient was inserted (Django's foreign keys
    are checked at commit on PostgreSQL), and is killed there. Its server session, blocked,
    would not notice the client is gone and would commit once the row is free: it is
    ended too, as a crash of the machine would."""
    acme.calls_per_second = acme.max_concurrent_calls = 1000
    acme.save()
    contacts = [household(acme, n) for n in range(1, 41)]
    notification = notify(life_safety=True, per_number_concurrency=1000)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    script = (
        "from notifications import services; from tenants.models import Tenant; "
        f"services.launch(Tenant.objects.get(pk={acme.pk}), {notification.pk}, actor=None)"
    )
    with transaction.atomic():
        Contact.unscoped.select_for_update().get(pk=contacts[-1].pk)
        launcher = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url}, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            # Blocked on our row at its commit (or gone: then say why).
            wait_for(lambda: lock_waiters() == 1 or launcher.poll() is not None)
            assert launcher.poll() is None, launcher.stdout.read()
        finally:
            kill(launcher)
        assert lock_waiters(terminate=True) == 1
    assert launcher.returncode == -signal.SIGKILL

    notification.refresh_from_db()
    assert notification.status == "draft"
    assert not Recipient.objects.for_tenant(acme).exists()  # nothing half-materialised
    services.launch(acme, notification.pk, actor=None)
    while dispatcher.tick(acme):
        pass
    per_recipient = Counter(Dial.objects.for_tenant(acme).values_list("recipient_id", flat=True))
    assert len(per_recipient) == len(contacts)
    assert set(per_recipient.values()) == {1}
