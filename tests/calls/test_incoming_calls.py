"""Incoming calls (Event Grid IncomingCall, answer / redirect / reject), connect, transfer:
through the official SDK against the live server, with the gateway on a virtual clock."""

from datetime import timedelta

import pytest
import time_machine
from azure.communication.callautomation import CallRejectReason, PhoneNumberIdentifier
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from calls import incoming_verbs
from calls.identifiers import Identifier
from calls.ingest import ingest
from calls.models import Call, CallConnection, IdempotentRequest, Participant, SimulatedCallee
from carrier.interface import CarrierEvent, LegOutcome
from tenants import services as tenant_services
from webhooks import subscriptions
from webhooks.models import EventSubscription

pytestmark = pytest.mark.django_db(transaction=True)

OUR_NUMBER = "+14255550100"
CALLER = "+14255550199"


@pytest.fixture
def acme(tenant):
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    return tenant


@pytest.fixture
def subscribed(acme, grid_receiver):
    return subscriptions.subscribe_events(
        acme, endpoint_url=grid_receiver.url, event_types=[], actor=None
    )


def ring(tenant, gateway, caller=CALLER):
    incoming_verbs.simulate_incoming_call(
        tenant, to_number=OUR_NUMBER, caller=Identifier.phone(caller)
    )
    gateway.advance(0)


def incoming_context(grid_receiver) -> str:
    [event] = grid_receiver.of_type("IncomingCall")
    return event["data"]["incomingCallContext"]


def test_a_subscription_is_active_only_after_the_validation_handshake(subscribed, grid_receiver):
    subscribed.refresh_from_db()

    assert subscribed.state == EventSubscription.State.ACTIVE
    handshake = grid_receiver.requests[0]["body"][0]
    assert handshake["data"]["validationCode"] == subscribed.validation_code


def test_an_endpoint_that_fails_the_handshake_gets_no_events(acme, grid_receiver, gateway):
    grid_receiver.validate = False
    subscription = subscriptions.subscribe_events(
        acme, endpoint_url=grid_receiver.url, event_types=[], actor=None
    )

    ring(acme, gateway)

    subscription.refresh_from_db()
    assert subscription.state == EventSubscription.State.FAILED
    assert grid_receiver.of_type("IncomingCall") == []


def test_an_incoming_call_is_announced_and_answered(
    subscribed, grid_receiver, sdk_client, callbacks, gateway, acme
):
    ring(acme, gateway)
    [event] = grid_receiver.of_type("IncomingCall")
    assert event["data"]["to"]["phoneNumber"]["value"] == OUR_NUMBER
    assert event["data"]["from"]["kind"] == "phoneNumber"
    assert event["data"]["from"]["rawId"] == f"4:{CALLER}"

    props = sdk_client().answer_call(
        incoming_context(grid_receiver), callbacks.url, operation_context="answered"
    )
    gateway.advance(1)

    assert props.server_call_id == event["data"]["serverCallId"]
    assert callbacks.types() == ["CallConnected", "ParticipantsUpdated"]
    assert callbacks.events[0]["data"]["operationContext"] == "answered"
    connection = sdk_client().get_call_connection(props.call_connection_id)
    [caller] = connection.list_participants()
    assert caller.identifier.raw_id == f"4:{CALLER}"


def test_an_incoming_call_context_is_accepted_only_once(
    subscribed, grid_receiver, sdk_client, callbacks, gateway, acme
):
    ring(acme, gateway)
    context = incoming_context(grid_receiver)
    sdk_client().answer_call(context, callbacks.url)

    with pytest.raises(HttpResponseError) as caught:
        sdk_client().answer_call(context, callbacks.url)

    assert caught.value.status_code == 400
    assert caught.value.error.code == "IncomingCallAlreadyHandled"
    assert CallConnection.unscoped.count() == 1


def test_a_redirected_call_connects_the_caller_to_the_target(
    subscribed, grid_receiver, sdk_client, callbacks, gateway, acme
):
    ring(acme, gateway)

    sdk_client().redirect_call(
        incoming_context(grid_receiver), PhoneNumberIdentifier("+14255550123")
    )
    gateway.advance(2)

    call = Call.unscoped.get()
    assert call.state == Call.State.CONNECTED
    states = dict(Participant.unscoped.values_list("role", "state"))
    assert states == {"caller": "connected", "redirect": "connected"}
    assert callbacks.requests == []  # the app is not in a redirected call


def test_a_rejected_call_ends_with_the_reason(
    subscribed, grid_receiver, sdk_client, callbacks, gateway, acme
):
    ring(acme, gateway)

    sdk_client().reject_call(
        incoming_context(grid_receiver), call_reject_reason=CallRejectReason.BUSY
    )
    gateway.advance(1)

    call = Call.unscoped.get()
    assert call.state == Call.State.DISCONNECTED
    assert call.end_code == 486


def test_an_unanswered_incoming_call_times_out(
    subscribed, grid_receiver, sdk_client, callbacks, gateway, acme, settings
):
    ring(acme, gateway)

    gateway.advance(settings.INCOMING_CALL_RING_TIMEOUT_SECONDS + 1)

    assert Call.unscoped.get().state == Call.State.DISCONNECTED
    with pytest.raises(HttpResponseError) as caught:
        sdk_client().answer_call(incoming_context(grid_receiver), callbacks.url)
    assert caught.value.status_code == 400


def test_an_expired_context_is_refused(
    subscribed, grid_receiver, sdk_client, callbacks, gateway, acme
):
    ring(acme, gateway)
    context = incoming_context(grid_receiver)

    with time_machine.travel(timedelta(minutes=10)), pytest.raises(HttpResponseError) as caught:
        sdk_client().answer_call(context, callbacks.url)

    assert caught.value.status_code == 400
    assert caught.value.error.code == "IncomingCallContextExpired"
    assert CallConnection.unscoped.count() == 0


def test_a_forged_or_foreign_context_is_refused(
    subscribed, grid_receiver, sdk_client, callbacks, gateway, acme, other_tenant
):
    ring(acme, gateway)
    context = incoming_context(grid_receiver)

    with pytest.raises(HttpResponseError) as forged:
        sdk_client().answer_call(context[:-3] + "abc", callbacks.url)
    with pytest.raises(ResourceNotFoundError):
        sdk_client(other_tenant).answer_call(context, callbacks.url)

    assert forged.value.status_code == 400
    assert CallConnection.unscoped.count() == 0


def test_a_second_application_connects_to_a_running_call(
    acme, sdk_client, callbacks, gateway, grid_receiver
):
    client = sdk_client()
    props = client.create_call(
        PhoneNumberIdentifier("+14255550123"),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(OUR_NUMBER),
    )
    gateway.advance(2)

    joined = client.connect_call(grid_receiver.url, server_call_id=props.server_call_id)
    client.get_call_connection(props.call_connection_id).add_participant(
        PhoneNumberIdentifier("+14255550124")
    )
    gateway.advance(2)

    assert joined.call_connection_state == "connected"
    assert grid_receiver.types()[0] == "CallConnected"
    roster = grid_receiver.of_type("ParticipantsUpdated")[-1]["data"]["participants"]
    assert len(roster) == 2


def test_connecting_to_an_unknown_server_call_is_not_found(acme, sdk_client, callbacks):
    with pytest.raises(ResourceNotFoundError):
        sdk_client().connect_call(callbacks.url, server_call_id="no-such-call")


def test_a_transfer_hands_the_call_over_and_the_app_leaves(acme, sdk_client, callbacks, gateway):
    client = sdk_client()
    props = client.create_call(
        PhoneNumberIdentifier("+14255550123"),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(OUR_NUMBER),
    )
    gateway.advance(2)
    connection = client.get_call_connection(props.call_connection_id)

    connection.transfer_call_to_participant(
        PhoneNumberIdentifier("+14255550124"), operation_context="xfer"
    )
    assert connection.get_call_properties().call_connection_state == "transferring"
    gateway.advance(2)

    [accepted] = callbacks.of_type("CallTransferAccepted")
    assert accepted["data"]["operationContext"] == "xfer"
    assert accepted["data"]["transferTarget"]["rawId"] == "4:+14255550124"
    assert accepted["data"]["transferee"]["rawId"] == "4:+14255550123"
    assert callbacks.types()[-1] == "CallDisconnected"
    assert Call.unscoped.get().state == Call.State.CONNECTED


def test_a_failed_transfer_keeps_the_app_in_the_call(acme, sdk_client, callbacks, gateway):
    SimulatedCallee.unscoped.create(tenant=acme, raw_id="4:+14255550124", outcome="busy")
    client = sdk_client()
    props = client.create_call(
        PhoneNumberIdentifier("+14255550123"),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(OUR_NUMBER),
    )
    gateway.advance(2)
    connection = client.get_call_connection(props.call_connection_id)

    connection.transfer_call_to_participant(PhoneNumberIdentifier("+14255550124"))
    gateway.advance(2)

    [failed] = callbacks.of_type("CallTransferFailed")
    assert failed["data"]["resultInformation"]["code"] == 486
    assert connection.get_call_properties().call_connection_state == "connected"


def test_a_caller_who_hangs_up_as_the_app_answers_gives_answer_failed(
    subscribed, grid_receiver, callbacks, gateway, acme
):
    ring(acme, gateway)
    incoming_verbs.answer_call(
        acme,
        incoming_call_context=incoming_context(grid_receiver),
        callback_uri=callbacks.url,
        operation_context="late",
    )
    caller = Participant.unscoped.get(role="caller")

    # The carrier reports the caller gone before the gateway could pick up.
    ingest(CarrierEvent(leg_id=str(caller.leg_id), kind=LegOutcome.NO_ANSWER))

    [failed] = callbacks.of_type("AnswerFailed")
    assert failed["data"]["operationContext"] == "late"
    assert callbacks.of_type("CallConnected") == []
    assert Call.unscoped.get().state == Call.State.DISCONNECTED


def test_an_idempotency_key_replays_too_and_a_running_first_request_answers_409(
    acme, sdk_client, callbacks
):
    headers = {"Idempotency-Key": "order-42"}
    client = sdk_client()
    target = PhoneNumberIdentifier("+14255550123")
    caller_id = PhoneNumberIdentifier(OUR_NUMBER)
    first = client.create_call(
        target, callbacks.url, source_caller_id_number=caller_id, headers=headers
    )
    again = client.create_call(
        target, callbacks.url, source_caller_id_number=caller_id, headers=headers
    )
    assert again.call_connection_id == first.call_connection_id

    IdempotentRequest.unscoped.create(tenant=acme, key="in-flight", fingerprint="x")
    with pytest.raises(HttpResponseError) as caught:
        client.create_call(
            target,
            callbacks.url,
            source_caller_id_number=caller_id,
            headers={"Idempotency-Key": "in-flight"},
        )
    assert caught.value.status_code == 409
    assert Call.unscoped.count() == 1
