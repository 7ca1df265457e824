"""The dispatcher: exactly-once slots (also with two dispatchers on real PostgreSQL),
pacing to calls-per-second and concurrent calls, suppressions, consent, windows."""

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from calls.models import Call
from reminders import dispatcher, services
from reminders.models import Appointment, Attempt, Contact
from tests.reminders.conftest import book

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clock")]


def book_many(acme, plan, count: int) -> None:
    for n in range(count):
        book(acme, plan, external_id=f"A-{n}", phone=f"+1425555{n:04d}")


def test_two_dispatchers_at_once_place_each_due_call_once(acme, plan):
    acme.calls_per_second = acme.max_concurrent_calls = 50
    acme.save()
    book_many(acme, plan, 12)
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
    assert Attempt.objects.for_tenant(acme).count() == 12
    assert Call.objects.for_tenant(acme).count() == 12


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: one transaction")
def test_a_tick_commits_each_call_before_the_next(acme, plan):
    """create_call locks the tenant's live-call counter row until its transaction ends: a
    tick in one transaction held it across all its calls, and every call of the tenant
    that ended (the gateway) or was hung up (a callback) waited for the whole tick."""
    book_many(acme, plan, 3)

    with CaptureQueriesContext(connection) as captured:
        assert dispatcher.tick(acme) == 3

    sent = [q["sql"] for q in captured.captured_queries]
    taken = [i for i, sql in enumerate(sent) if "UPDATE calls_livecalls SET live = live + 1" in sql]
    commits = [i for i, sql in enumerate(sent) if sql.startswith("COMMIT")]
    assert len(taken) >= 2
    assert commits[-1] > taken[-1]
    for one, following in itertools.pairwise(taken):
        assert any(one < commit < following for commit in commits), sent[one:following]


def test_an_appointment_changed_after_the_tick_read_it_is_left_alone(acme, plan):
    """Due rows are read without locks; each slot is taken by a guarded UPDATE, which
    finds nothing to take once the appointment was cancelled meanwhile."""
    appointment = book(acme, plan)
    due = Appointment.objects.for_tenant(acme).select_related("contact", "plan").get()
    Appointment.unscoped.filter(pk=appointment.pk).update(status=Appointment.Status.CANCELLED)

    assert dispatcher._dispatch(acme, due, timezone.now(), set()) == 0
    assert not Attempt.objects.for_tenant(acme).exists()
    assert not Call.objects.for_tenant(acme).exists()


def test_a_reissued_slot_is_not_dialled_twice(acme, plan):
    appointment = book(acme, plan)
    slot = appointment.next_attempt_at
    assert dispatcher.tick(acme) == 1

    # A stale copy of the appointment (a re-issued task) puts the same slot back.
    appointment.refresh_from_db()
    type(appointment).unscoped.filter(pk=appointment.pk).update(next_attempt_at=slot)

    assert dispatcher.tick(acme) == 0
    assert Call.objects.for_tenant(acme).count() == 1


def test_a_tick_places_no_more_than_the_calls_per_second(acme, plan):
    acme.calls_per_second = 2
    acme.save()
    book_many(acme, plan, 5)

    with time_machine.travel(timezone.now(), tick=False) as frozen:
        assert dispatcher.tick(acme) == 2
        assert dispatcher.tick(acme) == 0  # the same second
        frozen.shift(timedelta(seconds=1))
        assert dispatcher.tick(acme) == 2


def test_a_tick_places_no_more_than_the_free_concurrent_calls(acme, plan):
    acme.calls_per_second = 10
    acme.max_concurrent_calls = 3
    acme.save()
    book_many(acme, plan, 5)

    assert dispatcher.tick(acme) == 3
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        assert dispatcher.tick(acme) == 0  # three still in flight


def test_a_number_on_the_do_not_call_list_is_not_dialled(acme, plan):
    appointment = book(acme, plan)
    services.suppress(acme, appointment.contact.phone, actor=None)
    type(appointment).unscoped.filter(pk=appointment.pk).update(next_attempt_at=timezone.now())

    assert dispatcher.tick(acme) == 0

    assert appointment.attempts.get().disposition == "suppressed"
    assert not Call.objects.for_tenant(acme).exists()


def test_a_contact_without_consent_is_not_dialled(acme, plan):
    appointment = book(acme, plan)
    Contact.objects.for_tenant(acme).update(consent=False)

    assert dispatcher.tick(acme) == 0

    assert appointment.attempts.get().disposition == "suppressed"


def test_a_due_call_found_outside_the_window_waits_for_the_next_opening(acme, plan):
    appointment = book(acme, plan, starts_in=timedelta(days=2))
    late_evening = datetime(2026, 3, 4, 2, 30, tzinfo=UTC)  # 21:30 in New York
    type(appointment).unscoped.filter(pk=appointment.pk).update(next_attempt_at=late_evening)

    with time_machine.travel(late_evening, tick=False):
        assert dispatcher.tick(acme) == 0

    appointment.refresh_from_db()
    assert appointment.next_attempt_at == datetime(2026, 3, 4, 14, 0, tzinfo=UTC)  # 09:00
    assert not appointment.attempts.exists()


def test_a_contact_in_berlin_is_not_called_at_night_in_berlin(acme, plan):
    acme.time_zone = "America/Chicago"
    acme.save()
    appointment = book(acme, plan, zone="Europe/Berlin", starts_in=timedelta(days=2))
    evening = datetime(2026, 3, 3, 21, 0, tzinfo=UTC)  # 15:00 in Chicago, 22:00 in Berlin
    type(appointment).unscoped.filter(pk=appointment.pk).update(next_attempt_at=evening)

    with time_machine.travel(evening, tick=False):
        assert dispatcher.tick(acme) == 0

    appointment.refresh_from_db()
    assert appointment.next_attempt_at == datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # 09:00 CET


def test_the_contact_zone_defaults_from_the_number_else_the_tenant(acme):
    berlin = services.save_contact(acme, actor=None, name="B", phone="+4930901820")
    us = services.save_contact(acme, actor=None, name="U", phone="+12125550123")

    assert berlin.time_zone == "Europe/Berlin"
    assert us.time_zone in ("America/New_York", acme.time_zone)


def test_the_dispatch_schedule_exists_once_by_name():
    [schedule] = Schedule.objects.filter(name="reminders.dispatch_reminders")

    assert schedule.func == "reminders.tasks.dispatch_reminders"
    assert schedule.schedule_type == Schedule.MINUTES


def test_a_run_stops_when_nothing_is_due(acme, plan):
    book_many(acme, plan, 3)
    sleeps: list[float] = []
    elapsed = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        elapsed[0] += seconds

    placed = dispatcher.run(seconds=30, clock=lambda: elapsed[0], sleep=sleep)

    assert placed == 3
    # One pass placed all; the next look for due work, a second later, found none.
    assert 1.0 <= sum(sleeps) < 1.2


def test_a_call_due_between_two_looks_is_placed_within_a_tick(acme, plan):
    book_many(acme, plan, 2)
    soon = timezone.now() + timedelta(seconds=0.4)
    Appointment.objects.for_tenant(acme).filter(external_id="A-1").update(next_attempt_at=soon)

    assert dispatcher.run(seconds=3) == 2

    second = Attempt.objects.for_tenant(acme).order_by("due_at").last()
    # At one look a second, it waited until the next (0.6 s); ticks are 0.1 s apart.
    assert (second.dialed_at - second.due_at).total_seconds() < 0.35


def test_a_moved_appointment_is_reminded_again_for_its_new_time(acme, plan):
    appointment = book(acme, plan)
    assert dispatcher.tick(acme) == 1
    attempt = appointment.attempts.get()
    with transaction.atomic():
        services.finish_attempt(attempt, "voicemail", timezone.now())
    appointment.refresh_from_db()
    assert appointment.next_attempt_at is None

    services.save_appointment(
        acme,
        actor=None,
        external_id=appointment.external_id,
        starts_at=appointment.starts_at + timedelta(days=3),
    )
    appointment.refresh_from_db()

    assert appointment.next_reminder_index == 0
    assert appointment.next_attempt_at is not None


def test_an_attempt_never_heard_of_again_stops_counting_as_in_flight(acme, plan):
    appointment = book(acme, plan)
    assert dispatcher.tick(acme) == 1

    released = dispatcher.release_stale(timezone.now() + timedelta(hours=3))

    assert released == 1
    attempt = appointment.attempts.get()
    assert (attempt.state, attempt.disposition) == ("ended", "failed")


def test_a_retry_that_would_fall_after_the_next_reminder_gives_way_to_it(acme, plan):
    appointment = book(acme, plan, starts_in=timedelta(hours=2, minutes=5))
    assert appointment.next_reminder_index == 0  # 24 h is late: now; 2 h is in 5 minutes
    assert dispatcher.tick(acme) == 1

    with transaction.atomic():
        services.finish_attempt(appointment.attempts.get(), "busy", timezone.now())

    appointment.refresh_from_db()
    assert (appointment.next_reminder_index, appointment.next_attempt_number) == (1, 1)
    assert appointment.next_attempt_at - timezone.now() <= timedelta(minutes=5)
