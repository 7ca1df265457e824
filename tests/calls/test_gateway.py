"""The gateway: idempotent ingestion, call ownership, reconciliation after a restart."""

import pytest

from calls import call_verbs
from calls.gateway import Gateway
from calls.identifiers import Identifier
from calls.ingest import ingest
from calls.models import Call, CallEvent, CarrierCommand, Participant
from carrier.interface import CarrierEvent, LegOutcome, VirtualClock
from carrier.simulated.driver import SimulatedCarrier
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def call(tenant, callbacks):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone("+14255550123")],
        callback_uri=callbacks.url,
        source_caller_id="+14255550100",
    )
    return connection.call


def test_an_event_ingested_twice_acts_once(call):
    leg = str(Participant.unscoped.get(call=call).leg_id)
    event = CarrierEvent(leg_id=leg, kind=LegOutcome.ANSWERED)

    assert ingest(event) is True
    assert ingest(event) is False

    assert CallEvent.unscoped.filter(event_type="CallConnected").count() == 1


def test_the_first_gateway_to_run_a_calls_commands_owns_the_call(call, gateway):
    other = Gateway(SimulatedCarrier(VirtualClock()), gateway_id="gateway-2")

    gateway.advance(0)

    assert Call.unscoped.get(pk=call.pk).gateway_id == "gateway-1"
    call_verbs.terminate(call.tenant, call.connections.get().call_connection_id)
    assert other.run_commands() == 0  # the hang-up is gateway-1's to carry out
    assert CarrierCommand.unscoped.filter(state="pending").count() == 1


def test_a_restarted_gateway_ends_the_calls_it_no_longer_carries(call, gateway, callbacks):
    gateway.advance(2)
    assert Call.unscoped.get(pk=call.pk).state == Call.State.CONNECTED

    restarted = Gateway(SimulatedCarrier(VirtualClock()), gateway_id="gateway-1")
    ended = restarted.reconcile()

    assert ended == 1
    call.refresh_from_db()
    assert call.state == Call.State.DISCONNECTED
    assert call.end_code == 500
    disconnected = callbacks.of_type("CallDisconnected")[-1]
    assert "gateway restarted" in disconnected["data"]["resultInformation"]["message"]


def test_reconciliation_leaves_other_gateways_calls_alone(call, gateway):
    gateway.advance(2)

    assert Gateway(SimulatedCarrier(VirtualClock()), gateway_id="gateway-9").reconcile() == 0
    assert Call.unscoped.get(pk=call.pk).state == Call.State.CONNECTED
