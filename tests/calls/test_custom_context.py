"""customCallingContext end to end: SIP and VoIP headers sent with the official SDK's
add_participant and transfer reach the callee (what the simulated carrier's phone is
sent), are kept with the participant, and come back on IncomingCall's customContext for
inbound calls that carry them; bad headers are refused as ACS refuses them."""

import pytest
from azure.communication.callautomation import PhoneNumberIdentifier
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from calls import incoming_verbs
from calls.identifiers import Identifier
from calls.models import Participant
from tenants import services as tenant_services
from webhooks import subscriptions

pytestmark = pytest.mark.django_db(transaction=True)

OUR_NUMBER = "+14255550100"
CALLEE = "+14255550123"
ADDED = "+14255550124"
SIP = {"X-MS-Custom-Order": "A-1234", "User-To-User": "3a3b3c;encoding=hex"}
VOIP = {"ticket": "T-99", "tier": "gold"}


@pytest.fixture
def connection(tenant, sdk_client, callbacks, gateway):
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    client = sdk_client()
    props = client.create_call(
        PhoneNumberIdentifier(CALLEE),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(OUR_NUMBER),
    )
    gateway.advance(2)
    return client.get_call_connection(props.call_connection_id)


def sent_to(gateway, number: str) -> dict:
    participant = Participant.unscoped.get(raw_id=f"4:{number}")
    return gateway.carrier.headers[str(participant.leg_id)]


def test_add_participant_headers_reach_the_callee(connection, gateway):
    connection.add_participant(PhoneNumberIdentifier(ADDED), sip_headers=SIP, voip_headers=VOIP)
    gateway.advance(0.1)

    assert sent_to(gateway, ADDED) == {"sipHeaders": SIP, "voipHeaders": VOIP}
    stored = Participant.unscoped.get(raw_id=f"4:{ADDED}").custom_context
    assert stored == {"sipHeaders": SIP, "voipHeaders": VOIP}


def test_transfer_headers_reach_the_transfer_target(connection, gateway):
    connection.transfer_call_to_participant(PhoneNumberIdentifier(ADDED), voip_headers=VOIP)
    gateway.advance(0.1)

    assert sent_to(gateway, ADDED) == {"voipHeaders": VOIP}


def test_an_incoming_call_brings_its_headers_on_incoming_call(tenant, grid_receiver, gateway):
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    subscriptions.subscribe_events(
        tenant, endpoint_url=grid_receiver.url, event_types=[], actor=None
    )
    incoming_verbs.simulate_incoming_call(
        tenant,
        to_number=OUR_NUMBER,
        caller=Identifier.phone("+14255550199"),
        custom_context={"sipHeaders": SIP},
    )
    gateway.advance(0)

    [event] = grid_receiver.of_type("IncomingCall")
    assert event["data"]["customContext"] == {"sipHeaders": SIP, "voipHeaders": {}}


def test_an_incoming_call_without_headers_has_an_empty_custom_context(
    tenant, grid_receiver, gateway
):
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    subscriptions.subscribe_events(
        tenant, endpoint_url=grid_receiver.url, event_types=[], actor=None
    )
    incoming_verbs.simulate_incoming_call(
        tenant, to_number=OUR_NUMBER, caller=Identifier.phone("+14255550199")
    )
    gateway.advance(0)

    [event] = grid_receiver.of_type("IncomingCall")
    assert event["data"]["customContext"] == {"sipHeaders": {}, "voipHeaders": {}}


@pytest.mark.parametrize(
    ("sip", "voip", "mentions"),
    [
        ({"X-Order": "1"}, None, "custom SIP headers are named X-MS-Custom-<name>"),
        ({"X-MS-Custom-": "1"}, None, "custom SIP headers are named"),
        ({"X-MS-Custom-A": "1\r\nVia: evil"}, None, "no line breaks"),
        ({"X-MS-Custom-A": "x" * 257}, None, "at most 256 printable characters"),
        ({f"X-MS-Custom-{i}": "1" for i in range(6)}, None, "sipHeaders: at most 5 headers"),
        (None, {"bad name": "1"}, "a header name is 1 to 64"),
        (None, {"a" * 65: "1"}, "a header name is 1 to 64"),
        (None, {"ok": "x" * 1025}, "at most 1024 printable characters"),
    ],
)
def test_bad_headers_are_refused_and_nobody_is_dialled(connection, gateway, sip, voip, mentions):
    with pytest.raises(HttpResponseError) as refused:
        connection.add_participant(PhoneNumberIdentifier(ADDED), sip_headers=sip, voip_headers=voip)

    assert refused.value.status_code == 400
    assert mentions in str(refused.value)
    assert not Participant.unscoped.filter(raw_id=f"4:{ADDED}").exists()


def test_a_value_at_the_limits_is_accepted(connection, gateway):
    sip = {f"X-MS-Custom-{i}": "x" * 256 for i in range(5)}

    connection.add_participant(PhoneNumberIdentifier(ADDED), sip_headers=sip)
    gateway.advance(0.1)

    assert sent_to(gateway, ADDED) == {"sipHeaders": sip}


def test_another_tenants_connection_is_not_found(connection, other_tenant, sdk_client):
    theirs = sdk_client(other_tenant).get_call_connection(connection._call_connection_id)

    with pytest.raises(ResourceNotFoundError):
        theirs.add_participant(PhoneNumberIdentifier(ADDED), sip_headers=SIP)
