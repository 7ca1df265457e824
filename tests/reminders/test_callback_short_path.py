"""The reminders callback endpoint's cost per event (issue 15): an event the flow ignores
(ParticipantsUpdated, PlayStarted...) is only appended to the attempt's log, in one
statement with no row lock held across round trips; a flow step reads its attempt once."""

import uuid

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from calls.models import CallConnection
from reminders import calling, dispatcher
from reminders.models import Attempt
from tests.reminders.conftest import book, callee
from webhooks import signing

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("clock"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the short path is jsonb"),
]


def cloud_event(kind: str, sequence: int, event_id: str = "", **data) -> dict:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": f"Microsoft.Communication.{kind}",
        "sequence": sequence,
        "time": "2026-03-03T15:00:01+00:00",
        "data": data,
    }


def post(client, tenant, token: str, events: list[dict]):
    return client.post(
        f"/t/{tenant.slug}/api/v1/reminders/callbacks/{token}",
        events,
        content_type="application/json",
        headers={"Authorization": f"Bearer {signing.bearer_token(tenant)}"},
    )


@pytest.fixture
def attempt(acme, plan) -> Attempt:
    callee(acme, keys=[(1, "1", "prompt")])
    book(acme, plan)
    assert dispatcher.tick(acme) == 1
    return Attempt.objects.for_tenant(acme).get()


def attempt_sql(queries) -> list[str]:
    return [q["sql"] for q in queries if "reminders_attempt" in q["sql"]]


def test_an_event_the_flow_ignores_is_one_update_and_no_lock(client, acme, attempt):
    post(client, acme, "warm-up", [])  # the platform's signing keys are read once
    ignored = [cloud_event("PlayStarted", 4), cloud_event("ParticipantsUpdated", 3)]

    reset_queries()  # each request resets the log: capture from its start
    with CaptureQueriesContext(connection) as queries:
        response = post(client, acme, attempt.callback_token, ignored)

    assert response.status_code == 204, response.content
    [statement] = attempt_sql(queries)
    assert statement.startswith("UPDATE")
    assert not any("FOR UPDATE" in q["sql"] or "FOR NO KEY" in q["sql"] for q in queries)
    assert not any(q["sql"].startswith("COMMIT") for q in queries)  # autocommit: one trip
    after = Attempt.unscoped.get(pk=attempt.pk)
    # Logged in sequence order; nothing else about the attempt changed.
    assert [e["type"] for e in after.events] == ["ParticipantsUpdated", "PlayStarted"]
    assert [e["sequence"] for e in after.events] == [3, 4]
    assert (after.state, after.step) == (attempt.state, attempt.step)


def test_a_redelivered_ignored_event_is_logged_once(client, acme, attempt):
    event = cloud_event("ParticipantsUpdated", 3)

    for _ in range(3):
        assert post(client, acme, attempt.callback_token, [event]).status_code == 204
    post(client, acme, attempt.callback_token, [event, cloud_event("PlayStarted", 4)])

    logged = Attempt.unscoped.get(pk=attempt.pk).events
    assert [e["id"] for e in logged] == [event["id"], logged[1]["id"]]
    assert [e["type"] for e in logged] == ["ParticipantsUpdated", "PlayStarted"]


def test_an_ignored_event_for_another_tenants_attempt_is_404(client, acme, other_tenant, attempt):
    response = post(client, other_tenant, attempt.callback_token, [cloud_event("PlayStarted", 1)])

    assert response.status_code == 404
    assert Attempt.unscoped.get(pk=attempt.pk).events == []


def test_a_batch_with_an_event_the_flow_acts_on_takes_the_full_path(client, acme, attempt):
    ended = [cloud_event("ParticipantsUpdated", 7), cloud_event("CallDisconnected", 8)]

    assert post(client, acme, attempt.callback_token, ended).status_code == 204

    after = Attempt.unscoped.get(pk=attempt.pk)
    assert [e["type"] for e in after.events] == ["ParticipantsUpdated", "CallDisconnected"]
    assert after.state == Attempt.State.ENDED


def test_an_answer_reads_the_attempt_and_its_appointment_in_one_statement(acme, attempt):
    connection_id = attempt.call_connection_id
    # The call is up (as the gateway would have it) so the menu can start.
    CallConnection.unscoped.filter(call_connection_id=connection_id).update(state="connected")
    answered = cloud_event("CallConnected", 1, serverCallId="server-call")

    with CaptureQueriesContext(connection) as queries:
        calling.handle_events(acme, attempt.callback_token, [answered])

    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert sum("reminders_attempt" in sql for sql in reads) == 1  # the locking read
    assert not any(sql.startswith('SELECT "reminders_appointment"') for sql in reads)
    assert Attempt.unscoped.get(pk=attempt.pk).step == "menu"


@pytest.mark.parametrize("sequence", ["abc", [1]])
def test_a_sequence_that_is_not_an_integer_is_a_bad_body(client, acme, attempt, sequence):
    before = Attempt.objects.for_tenant(acme).get().events

    for kinds in (["PlayStarted"], ["CallConnected"]):  # the short path and the full one
        events = [cloud_event(kind, 1) | {"sequence": sequence} for kind in kinds]
        response = post(client, acme, attempt.callback_token, events)
        assert response.status_code == 400, response.content
        assert "sequence" in response.json()["error"]["message"]

    assert Attempt.objects.for_tenant(acme).get().events == before
