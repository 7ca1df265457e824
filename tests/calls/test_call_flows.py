"""Call flows end to end: the official SDK against the live server, the gateway's
simulated carrier on a virtual clock, callbacks into a real HTTP receiver."""

import jwt
import pytest
from azure.communication.callautomation import (
    CallConnectionState,
    CommunicationUserIdentifier,
    PhoneNumberIdentifier,
)
from azure.core.exceptions import HttpResponseError
from azure.core.messaging import CloudEvent
from standardwebhooks import Webhook

from calls.models import Call, CallConnection, SimulatedCallee
from tenants import services as tenant_services
from webhooks import signing

pytestmark = pytest.mark.django_db(transaction=True)

CALLER = "+14255550100"
CALLEE = "+14255550123"
SECOND = "+14255550124"


@pytest.fixture
def acme(tenant):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    return tenant


def script(tenant, raw_id, **behaviour):
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=raw_id, **behaviour)


def place_call(sdk_client, callbacks, *targets, **kwargs):
    client = sdk_client()
    props = client.create_call(
        list(targets) if len(targets) > 1 else targets[0],
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
        operation_context="ctx-create",
        **kwargs,
    )
    return props, client.get_call_connection(props.call_connection_id)


def test_a_pstn_call_connects_lists_participants_and_terminates(
    acme, sdk_client, callbacks, gateway
):
    props, connection = place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))
    assert props.call_connection_state == CallConnectionState.CONNECTING
    assert props.source_caller_id_number.raw_id == f"4:{CALLER}"
    assert callbacks.events == []  # nothing happens until the callee answers

    gateway.advance(2)

    assert callbacks.types() == ["CallConnected", "ParticipantsUpdated"]
    connected = CloudEvent.from_dict(callbacks.events[0])
    assert connected.data["callConnectionId"] == props.call_connection_id
    assert connected.data["serverCallId"] == props.server_call_id
    assert connected.data["operationContext"] == "ctx-create"
    assert connection.get_call_properties().call_connection_state == CallConnectionState.CONNECTED
    [participant] = connection.list_participants()
    assert participant.identifier.raw_id == f"4:{CALLEE}"
    assert connection.get_participant(PhoneNumberIdentifier(CALLEE)).is_muted is False

    connection.hang_up(is_for_everyone=True)

    assert callbacks.types()[-1] == "CallDisconnected"
    assert connection.get_call_properties().call_connection_state == "disconnected"
    gateway.advance(5)  # the hung-up leg's script no longer fires
    assert callbacks.types().count("CallDisconnected") == 1


@pytest.mark.parametrize(
    ("behaviour", "sip_code"),
    [({"outcome": "busy"}, 486), ({"outcome": "no_answer"}, 408), ({"outcome": "reject"}, 603)],
)
def test_a_call_that_is_not_answered_fails_with_the_sip_reason(
    acme, sdk_client, callbacks, gateway, behaviour, sip_code
):
    script(acme, f"4:{CALLEE}", **behaviour)
    place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))

    gateway.advance(61)

    [failed] = callbacks.of_type("CreateCallFailed")
    assert failed["data"]["resultInformation"]["code"] == sip_code
    assert failed["data"]["resultInformation"]["sipDetails"]["code"] == sip_code
    assert Call.unscoped.get().state == Call.State.DISCONNECTED


def test_a_group_call_of_three_connects_everyone(acme, sdk_client, callbacks, gateway):
    targets = [
        PhoneNumberIdentifier(CALLEE),
        PhoneNumberIdentifier("+14255550124"),
        CommunicationUserIdentifier("8:acs:resource_user1"),
    ]
    _, connection = place_call(sdk_client, callbacks, *targets)

    gateway.advance(2)

    assert callbacks.types().count("CallConnected") == 1
    rosters = callbacks.of_type("ParticipantsUpdated")
    assert len(rosters[-1]["data"]["participants"]) == 3
    sequence = [event["data"]["sequenceNumber"] for event in rosters]
    assert sequence == sorted(set(sequence))
    assert len(list(connection.list_participants())) == 3


def test_remote_hang_up_ends_a_one_to_one_call(acme, sdk_client, callbacks, gateway):
    script(acme, f"4:{CALLEE}", answer_after=1, hang_up_after=3)
    place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))

    gateway.advance(10)

    assert callbacks.types() == [
        "CallConnected",
        "ParticipantsUpdated",
        "ParticipantsUpdated",
        "CallDisconnected",
    ]
    assert CallConnection.unscoped.get().state == CallConnection.State.DISCONNECTED


def test_the_person_left_alone_after_the_app_handed_over_hears_the_call_end(
    acme, sdk_client, callbacks, gateway
):
    # Issue 12, defect 9: the reminders' press-3 transfer. The app adds the office and
    # leaves the two talking; when the office hangs up, the patient is alone in the call.
    script(acme, f"4:{SECOND}", hang_up_after=5)
    _props, connection = place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))
    gateway.advance(2)
    connection.add_participant(PhoneNumberIdentifier(SECOND))
    gateway.advance(2)
    connection.hang_up(is_for_everyone=False)
    gateway.advance(1)
    assert Call.unscoped.get().state == Call.State.CONNECTED  # the two talk

    gateway.advance(5)  # the office hangs up

    call = Call.unscoped.get()
    assert call.state == Call.State.DISCONNECTED
    assert set(call.participants.values_list("state", flat=True)) == {"disconnected"}
    assert not gateway.carrier.live_legs()  # the patient's leg was hung up too
    assert callbacks.types()[-1] == "CallDisconnected"  # the app left before; nothing new


def test_the_app_left_alone_in_a_call_hears_it_end(acme, sdk_client, callbacks, gateway):
    script(acme, f"4:{CALLEE}", hang_up_after=3)
    script(acme, f"4:{SECOND}", hang_up_after=4)
    place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE), PhoneNumberIdentifier(SECOND))

    gateway.advance(6)

    assert Call.unscoped.get().state == Call.State.DISCONNECTED
    assert callbacks.types()[-1] == "CallDisconnected"
    assert CallConnection.unscoped.get().state == CallConnection.State.DISCONNECTED


def test_add_cancel_and_remove_participants(acme, sdk_client, callbacks, gateway):
    script(acme, "4:+14255550125", answer_after=30)  # slow to answer: we cancel first
    _, connection = place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))
    gateway.advance(2)

    added = connection.add_participant(
        PhoneNumberIdentifier("+14255550124"), operation_context="add-1"
    )
    slow = connection.add_participant(PhoneNumberIdentifier("+14255550125"))
    gateway.advance(2)
    connection.cancel_add_participant_operation(slow.invitation_id, operation_context="cancel")
    gateway.advance(40)

    assert added.invitation_id
    [succeeded] = callbacks.of_type("AddParticipantSucceeded")
    assert succeeded["data"]["operationContext"] == "add-1"
    assert succeeded["data"]["participant"]["rawId"] == "4:+14255550124"
    [cancelled] = callbacks.of_type("CancelAddParticipantSucceeded")
    assert cancelled["data"]["invitationId"] == slow.invitation_id
    assert len(list(connection.list_participants())) == 2

    connection.remove_participant(PhoneNumberIdentifier("+14255550124"), operation_context="rm")

    assert callbacks.of_type("RemoveParticipantSucceeded")[0]["data"]["operationContext"] == "rm"
    rosters = callbacks.of_type("ParticipantsUpdated")
    sequence = [event["data"]["sequenceNumber"] for event in rosters]
    assert sequence == list(range(1, len(sequence) + 1))
    assert len(rosters[-1]["data"]["participants"]) == 1


def test_an_unanswered_invitation_reports_add_participant_failed(
    acme, sdk_client, callbacks, gateway
):
    script(acme, "4:+14255550124", outcome="busy")
    _, connection = place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))
    gateway.advance(2)

    connection.add_participant(
        PhoneNumberIdentifier("+14255550124"), operation_callback_url=callbacks.url + "?op=1"
    )
    gateway.advance(2)

    [failed] = callbacks.of_type("AddParticipantFailed")
    assert failed["data"]["resultInformation"]["code"] == 486
    assert callbacks.requests[-1]["path"].endswith("?op=1")


def test_mute_shows_in_the_roster(acme, sdk_client, callbacks, gateway):
    _, connection = place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))
    gateway.advance(2)

    connection.mute_participant(PhoneNumberIdentifier(CALLEE))

    assert connection.get_participant(PhoneNumberIdentifier(CALLEE)).is_muted
    roster = callbacks.of_type("ParticipantsUpdated")[-1]["data"]["participants"]
    assert roster[0]["isMuted"] is True


def test_hang_up_leaves_a_group_call_running_for_the_others(acme, sdk_client, callbacks, gateway):
    _, connection = place_call(
        sdk_client, callbacks, PhoneNumberIdentifier(CALLEE), PhoneNumberIdentifier("+14255550124")
    )
    gateway.advance(2)

    connection.hang_up(is_for_everyone=False)

    assert callbacks.types()[-1] == "CallDisconnected"
    assert Call.unscoped.get().state == Call.State.CONNECTED


def test_a_replayed_repeatability_request_id_creates_one_call(acme, sdk_client, callbacks):
    # The SDK resends a failed POST with the same Repeatability-Request-ID; emulate a resend.
    headers = {
        "Repeatability-Request-ID": "6f1c1b55-8a8a-4a43-9a49-000000000001",
        "Repeatability-First-Sent": "Wed, 25 Nov 2026 12:00:00 GMT",
    }
    client = sdk_client()
    first = client.create_call(
        PhoneNumberIdentifier(CALLEE),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
        headers=headers,
    )
    again = client.create_call(
        PhoneNumberIdentifier(CALLEE),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
        headers=headers,
    )

    assert again.call_connection_id == first.call_connection_id
    assert Call.unscoped.count() == 1
    with pytest.raises(HttpResponseError) as caught:
        client.create_call(
            PhoneNumberIdentifier("+14255550124"),
            callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(CALLER),
            headers=headers,
        )
    assert caught.value.status_code == 409


def test_callbacks_verify_with_standard_webhooks_and_the_published_jwks(
    acme, sdk_client, callbacks, gateway, live_server
):
    place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))
    gateway.advance(2)
    request = callbacks.requests[0]
    headers = {k.lower(): v for k, v in request["headers"].items()}

    [secret] = signing.webhook_secrets(acme)
    Webhook(secret).verify(request["raw"], headers)  # raises if the signature is wrong

    client = jwt.PyJWKClient(f"{live_server.url}/calling/keys")
    token = headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(
        token,
        client.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        audience=signing.audience(acme),
        issuer=signing.issuer(),
    )
    assert claims["exp"] - claims["iat"] == 300


@pytest.mark.parametrize(
    ("operation", "feature"),
    [
        (lambda c: c.move_participants([PhoneNumberIdentifier("+14255550124")], "x"), "Moving"),
    ],
)
def test_unsupported_operations_answer_a_clear_400(
    acme, sdk_client, callbacks, gateway, operation, feature
):
    _, connection = place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))

    with pytest.raises(HttpResponseError) as caught:
        operation(connection)

    assert caught.value.status_code == 400
    assert caught.value.error.code == "NotSupported"
    assert feature in caught.value.error.message


def test_unsupported_operations_on_another_tenants_call_are_404(
    acme, other_tenant, sdk_client, callbacks
):
    props, _ = place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))
    theirs = sdk_client(other_tenant).get_call_connection(props.call_connection_id)

    with pytest.raises(HttpResponseError) as caught:
        theirs.move_participants([PhoneNumberIdentifier("+14255550124")], "x")

    assert caught.value.status_code == 404


def test_the_concurrent_call_limit_refuses_one_call_too_many(acme, sdk_client, callbacks, gateway):
    acme.max_concurrent_calls = 1
    acme.save()
    place_call(sdk_client, callbacks, PhoneNumberIdentifier(CALLEE))

    with pytest.raises(HttpResponseError) as caught:
        place_call(sdk_client, callbacks, PhoneNumberIdentifier(SECOND))

    assert caught.value.status_code == 429
    assert "Retry-After" not in caught.value.response.headers
    assert Call.unscoped.count() == 1
