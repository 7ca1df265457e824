"""The dispatcher while the tenant's concurrent calls are all in use (issues 15, 16): it
ticks ten times a second, and each tick took the dialling turn and counted every campaign
app's load (five COUNTs) to find a spent budget. Now the load is counted in one statement,
and once a tick found the cap full the next ticks ask only "is it still full?" (one
count of the calls in flight, no turn) until a call ends."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from calls import call_verbs
from notifications import dispatcher, services
from notifications.models import Dial, Disposition
from tests.notifications.conftest import household

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clock")]


def counted(operation) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        result = operation()
    return result, [q["sql"] for q in captured.captured_queries]


def test_a_full_cap_costs_one_statement_a_tick_until_a_call_ends(acme, notify):
    acme.max_concurrent_calls = 2
    acme.save()
    for n in range(1, 5):
        household(acme, n)
    services.launch(acme, notify().pk, actor=None)
    assert dispatcher.tick(acme) == 2

    placed, full = counted(lambda: dispatcher.tick(acme))  # finds the cap full
    assert placed == 0
    assert len([sql for sql in full if "notifications_dial" in sql]) == 1  # one count
    placed, probe = counted(lambda: dispatcher.tick(acme))
    assert (placed, len(probe)) == (0, 1)  # only "still full?"

    dial = Dial.objects.for_tenant(acme).order_by("pk").first()
    call_verbs.terminate(acme, dial.call_connection_id)  # the engine's slot is free again
    with transaction.atomic():
        services.finish_dial(dial, Disposition.ACKNOWLEDGED, timezone.now())
    assert dispatcher.tick(acme) == 1  # a call ended: the next tick places one
