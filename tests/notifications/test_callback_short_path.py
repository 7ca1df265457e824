"""The notifications callback endpoint shares the reminders' short path (issue 15): an
event the flow ignores is one UPDATE appending it to the dial's log, once per event id."""

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from notifications import dispatcher, services
from notifications.models import Dial
from tests.notifications.conftest import household
from tests.reminders.test_callback_short_path import cloud_event
from webhooks import signing

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clock"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the short path is jsonb"),
]


def post(client, tenant, token: str, events: list[dict]):
    return client.post(
        f"/t/{tenant.slug}/api/v1/notifications/callbacks/{token}",
        events,
        content_type="application/json",
        headers={"Authorization": f"Bearer {signing.bearer_token(tenant)}"},
    )


def test_an_ignored_event_is_one_update_without_a_lock_and_logged_once(client, acme, notify):
    household(acme, 1, keys=[(1, "1", "prompt")])
    notification = notify()
    services.launch(acme, notification.pk, actor=None)
    assert dispatcher.tick(acme) == 1
    dial = Dial.objects.for_tenant(acme).get()
    post(client, acme, "warm-up", [])  # the platform's signing keys are read once
    event = cloud_event("ParticipantsUpdated", 2)

    reset_queries()  # each request resets the log: capture from its start
    with CaptureQueriesContext(connection) as queries:
        response = post(client, acme, dial.callback_token, [event])
    queries = list(queries)  # a view of the log, which the next request resets
    post(client, acme, dial.callback_token, [event])  # redelivered

    assert response.status_code == 204, response.content
    [statement] = [q["sql"] for q in queries if "notifications_dial" in q["sql"]]
    assert statement.startswith("UPDATE")
    assert not any("FOR UPDATE" in q["sql"] or "FOR NO KEY" in q["sql"] for q in queries)
    after = Dial.unscoped.get(pk=dial.pk)
    assert [e["id"] for e in after.events] == [event["id"]]
    assert (after.state, after.step) == (dial.state, dial.step)


def test_an_ignored_event_for_an_unknown_dial_is_404(client, acme):
    response = post(client, acme, "no-such-dial", [cloud_event("PlayStarted", 1)])

    assert response.status_code == 404
