"""What the gateway's steps of one ordinary call cost in SQL round trips (issue 15): dial,
answer, a play started and completed, the app's hang-up, and a callee's hang-up.
Counted with CaptureQueriesContext (every statement, savepoints and commits included):
the gateway spent most of its time waiting on PostgreSQL, one round trip at a time.
A bound on behaviour, not a timing; the figures before this work are in the comments."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import call_verbs, media_verbs
from calls.gateway import Gateway
from calls.identifiers import Identifier
from calls.models import Call, CallEvent, SimulatedCallee
from carrier.interface import VirtualClock
from carrier.media.play_sources import PlaySource
from carrier.simulated.driver import SimulatedCarrier
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+14255550100"
CALLEE = "+14255550123"
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@pytest.fixture
def no_delivery_commits(settings):
    # Delivery loops pick callbacks up themselves, so only the gateway's statements count.
    settings.DELIVERY_LOOPS = 1


def _counted(step) -> tuple[int, int, int]:
    """(all round trips, savepoint statements, commits) of one gateway step."""
    with CaptureQueriesContext(connection) as queries:
        assert step()
    sql = [q["sql"] for q in queries]
    import os

    if os.environ.get("SHOW_SQL"):
        print("\n".join(["----", *(x[:200] for x in sql)]))
    return (
        len(sql),
        sum(s.startswith(SAVEPOINTS) for s in sql),
        sum(s.startswith("COMMIT") for s in sql),
    )


def _calls(tenant, count, *, hang_up_after=None):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    clock = VirtualClock()
    gateway = Gateway(SimulatedCarrier(clock), batch_seconds=60)
    connections = []
    for n in range(count):
        callee = f"+1425555{n:04d}"
        SimulatedCallee.unscoped.create(
            tenant=tenant, raw_id=f"4:{callee}", answer_after=1.0, hang_up_after=hang_up_after
        )
        connections.append(
            call_verbs.create_call(
                tenant, targets=[Identifier.phone(callee)],
                callback_uri="http://127.0.0.1:9/cb", source_caller_id=CALLER,
            )
        )  # fmt: skip
    return clock, gateway, connections


def _call(tenant, *, hang_up_after=None):
    clock, gateway, connections = _calls(tenant, 1, hang_up_after=hang_up_after)
    return clock, gateway, connections[0]


def _types(call: Call) -> list[str]:
    return list(
        CallEvent.unscoped.filter(call=call).order_by("pk").values_list("event_type", flat=True)
    )


def _each_step(tenant, clock, gateway, conns) -> dict:
    """Dial, answer, play, play's events and hang up `conns` (all at once in each step);
    each step's statement counts."""
    costs = {"dial": _counted(gateway.run_commands)}
    clock.advance_to(1.5)
    costs["answer"] = _counted(gateway.ingest_events)
    for conn in conns:
        media_verbs.play(
            tenant, conn.call_connection_id, sources=[PlaySource(kind="text", text="Hello")],
            play_to=[],
        )  # fmt: skip
    costs["play"] = _counted(gateway.run_commands)
    clock.advance_to(30)
    costs["play events"] = _counted(gateway.ingest_events)
    for conn in conns:
        call_verbs.hang_up(tenant, conn.call_connection_id)
    costs["hang-up command"] = _counted(gateway.run_commands)
    return costs


def test_the_gateway_steps_of_one_call(tenant, no_delivery_commits):
    clock, gateway, conn = _call(tenant)
    costs = _each_step(tenant, clock, gateway, [conn])

    assert _types(conn.call) == [
        "CallConnected", "ParticipantsUpdated", "PlayStarted", "PlayCompleted",
        "CallDisconnected",
    ]  # fmt: skip
    # Before (main at ab4b0c6): dial (9, 2, 1), answer (21, 2, 1), play (9, 2, 1),
    # play started + completed (21, 4, 1), hang-up command (7, 2, 1): 67 in all.
    assert costs == {
        "dial": (7, 0, 1),
        "answer": (14, 0, 1),
        "play": (6, 0, 1),
        "play events": (14, 0, 1),
        "hang-up command": (4, 0, 1),
    }


def test_a_callee_hanging_up(tenant, no_delivery_commits):
    clock, gateway, conn = _call(tenant, hang_up_after=2.0)
    gateway.run_commands()
    clock.advance_to(1.5)
    gateway.ingest_events()
    clock.advance_to(4)

    cost = _counted(gateway.ingest_events)

    assert Call.unscoped.get(pk=conn.call_id).state == Call.State.DISCONNECTED
    assert _types(conn.call)[-2:] == ["ParticipantsUpdated", "CallDisconnected"]
    # Before (main at ab4b0c6): (26, 2, 1); session 7: (18, 0, 1); session 8 (the
    # connection's state and CallDisconnected's number in one UPDATE, the call's end and
    # its live-call slot in one statement): (16, 0, 1).
    assert cost == (16, 0, 1)


def test_ten_calls_in_one_batch_each_step(tenant, no_delivery_commits):
    """What the bench runs: many calls' commands and events per batch; a batch's round
    trips per call is what bounds the gateway's rate."""
    clock, gateway, conns = _calls(tenant, 10)
    costs = _each_step(tenant, clock, gateway, conns)

    assert all(len(_types(conn.call)) == 5 for conn in conns)
    # Before (main at ab4b0c6): dial (63, 20, 1), answer (192, 20, 1), play (63, 20, 1),
    # play started + completed (192, 40, 1), hang-up command (43, 20, 1): 553 in all,
    # 55 per call; now 207, 21 per call.
    assert costs == {
        "dial": (7, 0, 1),
        "answer": (95, 0, 1),
        "play": (6, 0, 1),
        "play events": (95, 0, 1),
        "hang-up command": (4, 0, 1),
    }
