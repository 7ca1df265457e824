"""Statements per callback of one whole reminder call (issue 15): the patient answers,
presses 1 to confirm, hears goodbye and the app hangs up. Each event is one POST to the
reminders endpoint, in process (tests/campaigns/callback_statements.py). Before session 8:
CallConnected 13 (recognize 10), RecognizeCompleted 13 (play 10), PlayCompleted ~17."""

import pytest
from django.db import connection

from reminders import dispatcher
from reminders.calling import callback_url
from reminders.models import Appointment, Attempt
from tests.campaigns.callback_statements import InProcessDelivery
from tests.reminders.conftest import book, callee

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clock"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="counts are PostgreSQL's"),
]

# The most statements one POST of each event type may take (the request's own included).
BUDGET = {
    "CallConnected": 11,
    "ParticipantsUpdated": 2,
    "RecognizeCompleted": 11,
    "PlayStarted": 2,
    "PlayCompleted": 16,
    "CallDisconnected": 7,
}


@pytest.fixture
def in_process(settings, client, acme):
    settings.REMINDERS_CALLBACK_BASE_URL = "http://testserver"
    settings.DELIVERY_LOOPS = 1  # the rows wait for the harness: no loop, no task
    return InProcessDelivery(client, acme)


def test_one_confirmed_reminder_stays_within_its_statements_per_callback(
    acme, plan, gateway, in_process
):
    callee(acme, keys=[(1, "1", "prompt")])
    appointment = book(acme, plan)
    assert dispatcher.tick(acme) == 1
    in_process.warm_up(callback_url(acme, Attempt.objects.for_tenant(acme).get()))

    in_process.run(gateway)

    attempt = Attempt.objects.for_tenant(acme).get()
    assert (attempt.disposition, attempt.state) == ("confirmed", "ended")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CONFIRMED
    worst = in_process.report()
    assert set(worst) == set(BUDGET)
    assert {name: n for name, n in worst.items() if n > BUDGET[name]} == {}
