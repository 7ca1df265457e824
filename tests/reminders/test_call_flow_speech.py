"""Reminder calls answered by voice: the menu is a recognize with choices, so a patient
may say "yes" / "confirm", "cancel" or "operator" instead of pressing a key (pocketsphinx
hears the test callee's espeak-ng speech)."""

import pytest

from reminders.models import Appointment
from tests.reminders.conftest import OFFICE, book, callee
from tests.reminders.test_call_flow import event_types, remind

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wired", "clock")]


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.mark.parametrize("word", ["yes", "confirm"])
def test_saying_yes_or_confirm_confirms(acme, plan, gateway, word):
    callee(acme, says=[[1, word, "prompt"]])
    appointment = book(acme, plan)

    attempt = remind(acme, gateway)

    assert (attempt.disposition, attempt.tones) == ("confirmed", [f"said:{word}"])
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED


def test_saying_cancel_cancels(acme, plan, gateway):
    callee(acme, says=[[1, "cancel", "prompt"]])
    appointment = book(acme, plan)

    attempt = remind(acme, gateway)

    assert attempt.disposition == "cancelled"
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_saying_operator_brings_in_the_office(acme, plan, gateway):
    callee(acme, says=[[1, "operator", "prompt"]])
    callee(acme, OFFICE)
    book(acme, plan)

    attempt = remind(acme, gateway)

    assert attempt.disposition == "transferred"
    assert "AddParticipantSucceeded" in event_types(attempt)


def test_words_that_are_no_choice_repeat_the_menu(acme, plan, gateway):
    callee(acme, says=[[1, "the weather is nice today", "prompt"]], keys=[(25, "1")])
    book(acme, plan)

    attempt = remind(acme, gateway)

    assert (attempt.replays, attempt.disposition) == (1, "confirmed")
