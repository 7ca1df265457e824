"""The gateway ingests a poll's carrier events in one transaction (issue 15), a savepoint
each: one COMMIT per batch, and a failing event undoes only its own writes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls import call_verbs, events, ingest
from calls.gateway import Gateway
from calls.identifiers import Identifier
from calls.models import Call, CallEvent, CarrierEventReceipt, Participant
from carrier.interface import CarrierEvent, LegOutcome, VirtualClock
from carrier.simulated.driver import SimulatedCarrier
from tenants import services as tenant_services
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+14255550100"
EXPLODES = "test.explodes"  # a carrier event kind whose handler writes, then fails


class AddsABadEvent(SimulatedCarrier):
    """The simulated carrier, plus: once `bad_leg` is set, the next non-empty poll ends
    with an event about that leg that ingestion fails on."""

    bad_leg = ""

    def poll(self) -> list[CarrierEvent]:
        events = super().poll()
        if events and self.bad_leg:
            events.append(CarrierEvent(leg_id=self.bad_leg, kind=EXPLODES))
            self.bad_leg = ""
        return events


def _explode(event: CarrierEvent) -> bool:
    # A write the failure must take back with it.
    Call.unscoped.filter(participants__leg_id=event.leg_id).update(end_message="half-applied")
    raise RuntimeError("an event the engine cannot apply")


@pytest.fixture
def explosive_kind():
    ingest.register_handler(EXPLODES, _explode)
    yield
    ingest._handlers.pop(EXPLODES, None)


@pytest.fixture
def no_delivery_commits(settings):
    # Delivery loops pick callbacks up themselves, so only the gateway's commits count.
    settings.DELIVERY_LOOPS = 1


def _dial(tenant, gateway, count: int) -> list[Call]:
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    calls = [
        call_verbs.create_call(
            tenant, targets=[Identifier.phone(f"+1425555{n:04d}")],
            callback_uri="http://127.0.0.1:9/cb", source_caller_id=CALLER,
        ).call
        for n in range(count)
    ]  # fmt: skip
    gateway.run_commands()  # dials them all; each callee answers 1 s later
    return calls


def _state(call: Call) -> str:
    return Call.unscoped.get(pk=call.pk).state


def _two_answers_and_a_bad_event(tenant) -> tuple[Gateway, Call, Call]:
    """Two calls dialled; their answers are due and the next poll adds an event about the
    first ("doomed") that ingestion fails on."""
    clock = VirtualClock()
    carrier = AddsABadEvent(clock)
    gateway = Gateway(carrier, batch_seconds=60)
    doomed, fine = _dial(tenant, gateway, 2)
    carrier.bad_leg = str(Participant.unscoped.get(call=doomed).leg_id)
    clock.advance_to(2)
    return gateway, doomed, fine


def test_a_polls_events_are_ingested_in_one_commit(tenant, no_delivery_commits):
    clock = VirtualClock()
    gateway = Gateway(SimulatedCarrier(clock), batch_seconds=60)  # time bound aside
    calls = _dial(tenant, gateway, 5)
    clock.advance_to(2)

    with CaptureQueriesContext(connection) as queries:
        done = gateway.ingest_events()

    commits = [q for q in queries if q["sql"].startswith("COMMIT")]
    assert done == 5
    assert len(commits) == 1  # not one per event
    assert [_state(call) for call in calls] == ["connected"] * 5
    assert CallEvent.unscoped.filter(event_type="CallConnected").count() == 5


def test_one_bad_event_in_a_batch_undoes_only_itself(tenant, explosive_kind, no_delivery_commits):
    gateway, doomed, fine = _two_answers_and_a_bad_event(tenant)

    with CaptureQueriesContext(connection) as queries:
        gateway.ingest_events()  # both answers, then the bad event about `doomed`

    assert sum(q["sql"].startswith("COMMIT") for q in queries) == 1
    # The other call's answer, in the same batch, stands.
    assert _state(fine) == "connected"
    assert CallEvent.unscoped.filter(connection__call=fine, event_type="CallConnected").exists()
    # So does the doomed call's own answer before the bad event; the bad event's write is
    # undone, and the call it was about is ended rather than left in limbo.
    doomed = Call.unscoped.get(pk=doomed.pk)
    assert doomed.state == "disconnected"
    assert doomed.end_code == 500
    assert doomed.end_message == "The call failed in the media server."
    assert CallEvent.unscoped.filter(connection__call=doomed, event_type="CallConnected").exists()
    assert CarrierEventReceipt.objects.count() == 2  # the two answers; not the bad event


def test_a_batch_commits_when_its_time_is_up_and_the_rest_follow_in_order(
    tenant, no_delivery_commits
):
    clock = VirtualClock()
    gateway = Gateway(SimulatedCarrier(clock), batch_seconds=0)  # one event per commit
    calls = _dial(tenant, gateway, 3)
    clock.advance_to(2)

    assert gateway.ingest_events() == 1
    assert [_state(call) for call in calls] == ["connected", "connecting", "connecting"]
    while gateway.ingest_events():
        pass

    assert [_state(call) for call in calls] == ["connected"] * 3


def test_a_batch_that_cannot_commit_is_ingested_again_event_by_event(tenant, no_delivery_commits):
    clock = VirtualClock()
    gateway = Gateway(SimulatedCarrier(clock))
    calls = _dial(tenant, gateway, 3)
    clock.advance_to(2)

    # The database drops the gateway's connection in the middle of the batch.
    connection.ensure_connection()
    ingest.register_handler(LegOutcome.ANSWERED, _drop_connection_once)
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver raises
            gateway.ingest_events()
    finally:
        ingest._handlers.pop(LegOutcome.ANSWERED, None)
    connection.close()  # what run_gateway does after a failed step
    assert [_state(call) for call in calls] == ["connecting"] * 3  # nothing half-saved

    assert gateway.ingest_events() == 3  # the kept events, in order, none lost

    assert [_state(call) for call in calls] == ["connected"] * 3


def _drop_connection_once(event: CarrierEvent) -> bool:
    ingest._handlers.pop(LegOutcome.ANSWERED, None)  # the next attempt runs the real code
    connection.connection.close()
    raise RuntimeError("unreachable: the statement before this one already failed")


def _emit_then_explode(event: CarrierEvent) -> bool:
    participant = Participant.unscoped.select_related("requested_by__call").get(leg_id=event.leg_id)
    events.emit(participant.requested_by, "HalfApplied")  # must not reach the outbox
    raise RuntimeError("an event the engine cannot apply, after it emitted")


def test_what_a_failing_event_emitted_is_not_written(tenant, no_delivery_commits):
    gateway, doomed, fine = _two_answers_and_a_bad_event(tenant)
    ingest.register_handler(EXPLODES, _emit_then_explode)
    try:
        gateway.ingest_events()  # fast path fails; the batch again, a savepoint per event
    finally:
        ingest._handlers.pop(EXPLODES, None)

    assert not CallEvent.unscoped.filter(event_type="HalfApplied").exists()
    assert not Delivery.unscoped.filter(event_type="HalfApplied").exists()
    assert _state(fine) == "connected"
    assert Call.unscoped.get(pk=doomed.pk).end_code == 500
    # The doomed connection's events are numbered without a gap or a repeat.
    numbers = list(
        CallEvent.unscoped.filter(connection__call=doomed)
        .order_by("sequence_number")
        .values_list("sequence_number", flat=True)
    )
    assert numbers == list(range(1, len(numbers) + 1))
    assert CallEvent.unscoped.filter(call=doomed, event_type="CallDisconnected").exists()
