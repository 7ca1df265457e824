"""The dispatcher: exactly once per contact per round (also with two dispatchers on real
PostgreSQL), pacing shared with reminders (which yield to notifications), the caller-ID
pool, quiet hours vs life-safety, schedule and expiry."""

import threading
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from calls.models import Call
from campaigns import pacing
from notifications import dispatcher, services
from notifications.models import Dial, Notification, Recipient
from reminders import dispatcher as reminders_dispatcher
from reminders import services as contacts
from reminders.models import Attempt, Suppression
from tenants.models import AuditEntry, PhoneNumber
from tests.notifications.conftest import CALLERS, household
from tests.reminders.conftest import book

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clock")]


def launched(acme, notify, count: int, **fields) -> Notification:
    for n in range(1, count + 1):
        household(acme, n)
    notification = notify(**fields)
    return services.launch(acme, notification.pk, actor=None)


def test_two_dispatchers_at_once_dial_each_recipient_once(acme, notify):
    acme.calls_per_second = acme.max_concurrent_calls = 50
    acme.save()
    launched(acme, notify, 12)
    barrier = threading.Barrier(2)
    placed: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            placed.append(dispatcher.tick(acme))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(placed) == 12
    assert Dial.objects.for_tenant(acme).count() == 12
    assert Call.objects.for_tenant(acme).count() == 12


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks")
def test_a_tick_while_another_run_of_the_dispatcher_ticks_skips_at_once(acme, notify):
    """It would only queue to count a budget the other run is spending."""
    launched(acme, notify, 3)
    holding, done = threading.Event(), threading.Event()

    def other_run() -> None:
        try:
            with pacing.turn(acme, name=dispatcher.PACING_NAME):
                holding.set()
                done.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_run)
    thread.start()
    assert holding.wait(10)
    try:
        started = time.monotonic()
        assert dispatcher.tick(acme) == 0
        assert time.monotonic() - started < 5
    finally:
        done.set()
        thread.join()
    assert dispatcher.tick(acme) == 3  # the turn is free again


def test_a_reissued_round_is_not_dialled_twice(acme, notify):
    launched(acme, notify, 1)
    recipient = Recipient.objects.for_tenant(acme).get()
    due = recipient.next_attempt_at
    assert dispatcher.tick(acme) == 1

    # A stale copy (a re-issued task, a restarted dispatcher) puts the same round back.
    Recipient.unscoped.filter(pk=recipient.pk).update(next_attempt_at=due, state="waiting")

    assert dispatcher.tick(acme) == 0
    assert Call.objects.for_tenant(acme).count() == 1


def test_a_tick_keeps_to_the_calls_per_second_and_concurrency(acme, notify):
    acme.calls_per_second = 3
    acme.max_concurrent_calls = 5
    acme.save()
    launched(acme, notify, 8)

    with time_machine.travel(timezone.now(), tick=False) as frozen:
        assert dispatcher.tick(acme) == 3
        assert dispatcher.tick(acme) == 0  # the same second
        frozen.shift(timedelta(seconds=1))
        assert dispatcher.tick(acme) == 2  # 5 in flight: the cap
        frozen.shift(timedelta(seconds=1))
        assert dispatcher.tick(acme) == 0


def test_a_priority_notification_is_dialled_before_an_earlier_normal_one(acme, notify):
    acme.calls_per_second = 2
    acme.max_concurrent_calls = 50
    acme.save()
    normal = launched(acme, notify, 2, priority=False)  # launched (due) first
    other = services.save_audience(acme, actor=None, name="Zone 5", areas=["zone-5"])
    for n in (11, 12):
        household(acme, n, area="zone-5")
    urgent = services.launch(
        acme, notify(name="Urgent", audience=other, priority=True).pk, actor=None
    )

    assert dispatcher.tick(acme) == 2
    first = set(Dial.objects.for_tenant(acme).values_list("notification_id", flat=True))
    assert first == {urgent.pk}
    assert dispatcher.tick(acme, timezone.now() + timedelta(seconds=2)) == 2
    assert Dial.objects.for_tenant(acme).filter(notification=normal).count() == 2


def test_the_caller_id_pool_is_round_robin_within_the_per_number_cap(acme, notify):
    acme.calls_per_second = acme.max_concurrent_calls = 50
    acme.save()
    launched(acme, notify, 7, per_number_concurrency=3)

    assert dispatcher.tick(acme) == 6  # two numbers, three calls each
    used = list(Dial.objects.for_tenant(acme).order_by("pk").values_list("caller_id", flat=True))
    assert used == [CALLERS[0], CALLERS[1]] * 3
    assert dispatcher.tick(acme, timezone.now() + timedelta(seconds=2)) == 0


def test_a_number_busy_with_another_notification_counts_against_its_cap(acme, notify, audience):
    acme.calls_per_second = acme.max_concurrent_calls = 50
    acme.save()
    first = launched(acme, notify, 2, per_number_concurrency=1)
    one_number = PhoneNumber.objects.for_tenant(acme).filter(e164=CALLERS[0])
    second = notify(name="Second", caller_ids=list(one_number), per_number_concurrency=1)
    household(acme, 3)
    services.launch(acme, second.pk, actor=None)

    placed = dispatcher.tick(acme)

    assert placed == 2  # CALLERS[0] and CALLERS[1] once each; the second waits
    assert Dial.objects.for_tenant(acme).filter(notification=first).count() == 2


def test_reminders_wait_while_a_notification_has_work_waiting(acme, notify):
    from reminders.models import ReminderPlan

    acme.calls_per_second = 2
    acme.save()
    plan = contacts.save_plan(
        acme,
        actor=None,
        name="Clinic",
        offsets_minutes=[120],
        caller_id=PhoneNumber.objects.for_tenant(acme).first(),
        weekdays=list(range(7)),
    )
    book(acme, ReminderPlan.objects.for_tenant(acme).get(pk=plan.pk), phone="+14255550999")
    launched(acme, notify, 3)

    with time_machine.travel(timezone.now(), tick=False) as frozen:
        assert reminders_dispatcher.tick(acme) == 0  # the notification goes first
        assert dispatcher.tick(acme) == 2
        frozen.shift(timedelta(seconds=1))
        assert dispatcher.tick(acme) == 1
        frozen.shift(timedelta(seconds=1))
        assert reminders_dispatcher.tick(acme) == 1  # nothing waiting ahead of it now
    assert Attempt.objects.for_tenant(acme).count() == 1


def test_quiet_hours_defer_a_normal_notification_but_not_a_life_safety_one(acme, notify):
    household(acme, 1, zone="Asia/Tokyo")  # 00:00 there at 15:00 UTC
    calm = notify(name="Calm")
    urgent = notify(name="Evacuate", life_safety=True)
    services.launch(acme, calm.pk, actor=None)
    services.launch(acme, urgent.pk, actor=None)

    assert dispatcher.tick(acme) == 1

    deferred = Recipient.objects.for_tenant(acme).get(notification=calm)
    assert deferred.state == "waiting"
    assert deferred.next_attempt_at.astimezone(ZoneInfo("Asia/Tokyo")).hour == 8  # next 08:00
    assert Dial.objects.for_tenant(acme).get().notification_id == urgent.pk


def test_a_life_safety_launch_audits_what_it_overrides(acme, notify):
    household(acme, 1)
    admin_listed = household(acme, 2)
    opted = household(acme, 3)
    contacts.suppress(acme, admin_listed.phone, actor=None, reason=Suppression.Reason.OTHER)
    contacts.suppress(acme, opted.phone, actor=None, reason=Suppression.Reason.OPTED_OUT)
    notification = notify(life_safety=True)

    preview = services.preview(notification)
    services.launch(acme, notification.pk, actor=None)

    assert (preview["audienceSize"], preview["lifeSafetyOverrides"], preview["optedOut"]) == (
        2,
        1,
        1,
    )
    phones = set(Recipient.objects.for_tenant(acme).values_list("phone", flat=True))
    assert phones == {"+14255560001", admin_listed.phone}
    entry = AuditEntry.objects.for_tenant(acme).get(action="notification.launch")
    assert entry.after["suppressions_overridden"] == 1
    assert entry.after["quiet_hours_ignored"] is True


def test_a_number_opted_out_after_launch_is_not_dialled(acme, notify):
    launched(acme, notify, 2)
    contacts.suppress(acme, "+14255560002", actor=None, reason=Suppression.Reason.OPTED_OUT)

    assert dispatcher.tick(acme) == 1
    skipped = Recipient.objects.for_tenant(acme).get(phone="+14255560002")
    assert (skipped.state, skipped.disposition) == ("done", "suppressed")


def test_a_scheduled_notification_starts_at_its_time(acme, notify, clock):
    household(acme, 1)
    notification = notify(scheduled_at=timezone.now() + timedelta(minutes=10))
    services.launch(acme, notification.pk, actor=None)
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SCHEDULED

    assert dispatcher.run(seconds=0) == 0
    clock.shift(timedelta(minutes=10, seconds=1))
    assert dispatcher.run(seconds=0) == 1
    notification.refresh_from_db()
    assert notification.status == Notification.Status.RUNNING


def test_dialling_stops_at_the_expiry(acme, notify, clock):
    acme.calls_per_second = 1
    acme.save()
    notification = launched(acme, notify, 3, expires_after_minutes=1)
    assert dispatcher.tick(acme) == 1

    clock.shift(timedelta(minutes=1, seconds=1))
    assert dispatcher.tick(acme) == 0

    rows = dict(Recipient.objects.for_tenant(acme).values_list("phone", "disposition"))
    assert sorted(rows.values()) == ["", "expired", "expired"]  # one call still in flight
    notification.refresh_from_db()
    assert notification.status == Notification.Status.RUNNING


def test_a_run_keeps_up_with_the_calls_per_second(acme, notify):
    """Each second's budget is used again as soon as the last second's dials age out: 3
    bursts of CPS calls fit in 2.6 s. One tick a second lost a whole second whenever a
    pass started a little early against the last burst's timestamp (here: every sleep
    ends 50 ms early, as the wall clock and the monotonic one may disagree)."""
    acme.calls_per_second, acme.max_concurrent_calls = 5, 100
    acme.save()
    for n in range(1, 31):
        household(acme, n)
    services.launch(acme, notify().pk, actor=None)

    placed = dispatcher.run(seconds=2.6, sleep=lambda s: time.sleep(max(0.0, s - 0.05)))

    assert placed == 15
    stamps = sorted(Dial.objects.for_tenant(acme).values_list("dialed_at", flat=True))
    for first, later in zip(stamps, stamps[5:], strict=False):
        assert later - first >= timedelta(seconds=1)  # never more than 5 in a second
