"""Statements per callback of one whole notification call (issues 15, 16): the callee
answers, presses 1 during the message, hears goodbye and the app hangs up. Each event is
one POST to the notifications endpoint, in process (tests/campaigns/callback_statements.py).
Before session 8: CallConnected 13 (recognize 10), PlayCompleted ~17 (hang_up ~15)."""

import pytest
from django.db import connection

from notifications import dispatcher, services
from notifications.calling import callback_url
from notifications.models import Dial, Recipient
from tests.campaigns.callback_statements import InProcessDelivery
from tests.notifications.conftest import household

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clock"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="counts are PostgreSQL's"),
]

# The most statements one POST of each event type may take (the request's own included).
BUDGET = {
    "CallConnected": 11,
    "ParticipantsUpdated": 2,
    "RecognizeCompleted": 10,
    "PlayStarted": 2,
    "PlayCompleted": 16,
    "CallDisconnected": 12,
}


@pytest.fixture
def in_process(settings, client, acme):
    settings.NOTIFICATIONS_CALLBACK_BASE_URL = "http://testserver"
    settings.DELIVERY_LOOPS = 1  # the rows wait for the harness: no loop, no task
    return InProcessDelivery(client, acme)


def test_one_acknowledged_call_stays_within_its_statements_per_callback(
    acme, notify, gateway, in_process
):
    household(acme, 1, keys=[(1, "1", "prompt")])
    notification = notify()
    services.launch(acme, notification.pk, actor=None)
    assert dispatcher.tick(acme) == 1
    in_process.warm_up(callback_url(acme, Dial.objects.for_tenant(acme).get()))

    in_process.run(gateway)

    recipient = Recipient.objects.for_tenant(acme).get()
    assert (recipient.state, recipient.disposition) == ("done", "acknowledged")
    worst = in_process.report()
    assert set(worst) == set(BUDGET)
    assert {name: n for name, n in worst.items() if n > BUDGET[name]} == {}
