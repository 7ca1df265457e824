"""Reminder calls end to end: the dispatcher places them through calls.call_verbs, the
simulated carrier answers on a virtual clock, and the platform's durable delivery POSTs
every CloudEvent over HTTP to the reminders endpoint on the live server, which drives
the flow (menu, keys, goodbye, hang-up)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, SimulatedCallee
from reminders import dispatcher, services
from reminders.models import Appointment, Attempt, Suppression
from tests.reminders.conftest import OFFICE, PATIENT, book, callee

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wired", "clock")]


def remind(acme, gateway, seconds: float = 120) -> Attempt:
    """Dispatch what is due and let the call play out; return the newest attempt."""
    assert dispatcher.tick(acme) == 1
    gateway.advance(seconds)
    return Attempt.objects.for_tenant(acme).order_by("-pk").first()


def event_types(attempt: Attempt) -> list[str]:
    return [e["type"] for e in attempt.events]


def test_pressing_1_confirms_the_appointment_and_says_goodbye(acme, plan, gateway):
    callee(acme, keys=[(1, "1", "prompt")])
    appointment = book(acme, plan)

    attempt = remind(acme, gateway)

    assert (attempt.disposition, attempt.state, attempt.tones) == ("confirmed", "ended", ["one"])
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    assert appointment.next_attempt_at is None
    types = event_types(attempt)
    assert types[0] == "CallConnected"
    assert [t for t in types if t.startswith(("Recognize", "Play"))] == [
        "RecognizeCompleted",
        "PlayStarted",
        "PlayCompleted",
    ]
    assert types[-1] == "CallDisconnected"
    assert Call.objects.for_tenant(acme).get().state == Call.State.DISCONNECTED


def test_pressing_2_cancels_the_appointment(acme, plan, gateway):
    callee(acme, keys=[(1, "2", "prompt")])
    appointment = book(acme, plan)

    attempt = remind(acme, gateway)

    assert attempt.disposition == "cancelled"
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_pressing_3_adds_the_office_and_the_app_leaves_them_talking(acme, plan, gateway):
    callee(acme, keys=[(1, "3", "prompt")])
    book(acme, plan)

    attempt = remind(acme, gateway, seconds=30)

    assert attempt.disposition == "transferred"
    assert "AddParticipantSucceeded" in event_types(attempt)
    call = Call.objects.for_tenant(acme).get()
    assert call.state == Call.State.CONNECTED  # callee and office still talk
    live = call.participants.filter(state="connected").values_list("raw_id", flat=True)
    assert sorted(live) == sorted([f"4:{PATIENT}", f"4:{OFFICE}"])


def test_pressing_9_opts_out_and_no_more_calls_follow(acme, plan, gateway):
    callee(acme, keys=[(1, "9", "prompt")])
    book(acme, plan)

    attempt = remind(acme, gateway)
    later = book(acme, plan, external_id="A-2", starts_in=timedelta(hours=1, minutes=30))

    assert attempt.disposition == "opted-out"
    suppression = Suppression.objects.for_tenant(acme).get()
    assert (suppression.phone, suppression.source) == (PATIENT, "keypad")
    assert dispatcher.tick(acme) == 0
    assert Call.objects.for_tenant(acme).count() == 1
    later.refresh_from_db()
    assert later.next_attempt_at is None or later.attempts.get().disposition == "suppressed"


def test_no_answer_is_retried_an_hour_later_and_then_confirmed(acme, plan, gateway, clock):
    callee(acme, outcome="no_answer")
    appointment = book(acme, plan, starts_in=timedelta(minutes=90))

    first = remind(acme, gateway, seconds=70)
    appointment.refresh_from_db()
    assert first.disposition == "no-answer"
    retry_in = appointment.next_attempt_at - timezone.now()
    assert timedelta(minutes=59) < retry_in <= timedelta(minutes=60)
    assert dispatcher.tick(acme) == 0  # not yet

    SimulatedCallee.objects.for_tenant(acme).update(outcome="answer", keys=[[1, "1", "prompt"]])
    clock.shift(timedelta(minutes=61))
    second = remind(acme, gateway)

    assert (second.attempt_number, second.disposition) == (2, "confirmed")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_busy_is_retried_ten_minutes_later(acme, plan, gateway):
    callee(acme, outcome="busy")
    appointment = book(acme, plan)

    attempt = remind(acme, gateway, seconds=5)

    assert attempt.disposition == "busy"
    appointment.refresh_from_db()
    retry_in = appointment.next_attempt_at - timezone.now()
    assert timedelta(minutes=9) < retry_in <= timedelta(minutes=10)
    assert appointment.next_attempt_number == 2


def test_an_answering_machine_gets_the_menu_twice_then_a_message(acme, plan, gateway):
    callee(acme, outcome="voicemail")
    appointment = book(acme, plan)

    attempt = remind(acme, gateway, seconds=180)

    assert attempt.disposition == "voicemail"
    types = event_types(attempt)
    assert types.count("RecognizeFailed") == 2
    assert "PlayCompleted" in types
    assert types[-1] == "CallDisconnected"
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.SCHEDULED
    assert appointment.next_attempt_at is None  # voicemail stops this reminder


def test_hanging_up_during_the_prompt_is_no_input(acme, plan, gateway):
    callee(acme, hang_up_after=2)
    book(acme, plan)

    attempt = remind(acme, gateway, seconds=30)

    assert attempt.disposition == "no-input"
    assert "RecognizeCompleted" not in event_types(attempt)


def test_a_declined_call_is_declined(acme, plan, gateway):
    callee(acme, outcome="reject")
    book(acme, plan)

    attempt = remind(acme, gateway, seconds=5)

    assert attempt.disposition == "declined"
    assert event_types(attempt) == ["CreateCallFailed"]


def test_an_appointment_cancelled_before_the_answer_is_not_read_out(acme, plan, gateway):
    callee(acme, answer_after=5, keys=[(1, "1", "prompt")])
    appointment = book(acme, plan)
    assert dispatcher.tick(acme) == 1

    services.cancel_appointment(acme, appointment.pk, actor=None)
    gateway.advance(60)

    attempt = appointment.attempts.get()
    assert attempt.disposition == "cancelled"
    assert "before the answer" in attempt.detail
    assert not [t for t in event_types(attempt) if t.startswith(("Recognize", "Play"))]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_star_repeats_the_menu_and_a_key_then_confirms(acme, plan, gateway):
    callee(acme, keys=[(1, "*", "prompt"), (20, "1")])  # "1" falls in the repeated menu
    book(acme, plan)

    attempt = remind(acme, gateway)

    assert (attempt.tones, attempt.replays, attempt.disposition) == (
        ["asterisk", "one"],
        1,
        "confirmed",
    )


def test_an_office_that_does_not_answer_gets_an_apology_and_a_retry(acme, plan, gateway):
    callee(acme, keys=[(1, "3", "prompt")])
    callee(acme, OFFICE, outcome="no_answer")
    appointment = book(acme, plan)

    attempt = remind(acme, gateway, seconds=180)

    assert attempt.disposition == "failed"
    assert "AddParticipantFailed" in event_types(attempt)
    assert "PlayCompleted" in event_types(attempt)
    appointment.refresh_from_db()
    assert appointment.next_attempt_number == 2


def test_the_dashboard_counts_todays_reminders_and_their_outcomes(
    acme, plan, gateway, client, user
):
    callee(acme, keys=[(1, "1", "prompt")])
    callee(acme, "+14255550124", keys=[(1, "2", "prompt")])
    book(acme, plan)
    book(acme, plan, phone="+14255550124", external_id="A-2")
    client.force_login(user)

    remind_all = dispatcher.tick(acme)
    gateway.advance(120)
    page = client.get(f"/portal/t/{acme.slug}/").content.decode()

    assert remind_all == 2
    assert "Reminders due today" in page
    assert "<td>confirmed</td><td>1</td>" in page
    assert "<td>cancelled</td><td>1</td>" in page
    assert '<strong id="reminders-waiting">0</strong>' in page
