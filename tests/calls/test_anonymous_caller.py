"""Operations on an anonymous caller ("4:anonymous", ACS's anonymous phone number: a caller
who withholds the number, or a SIP caller whose user is not one): the app can play to
them, recognize their keys, mute, look them up and remove them, with the identifier the
SDK rebuilt from the event (isAnonymous) or built by hand; calling "anonymous" is refused
in the ACS error shape."""

import pytest
from azure.communication.callautomation import (
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)

from calls import incoming_verbs
from calls.identifiers import PHONE_NUMBER, Identifier
from calls.models import CallConnection, Participant, SimulatedCallee
from tenants import services as tenant_services
from tests.calls.api_support import assert_error, signed
from webhooks import subscriptions

pytestmark = pytest.mark.django_db(transaction=True)

OUR_NUMBER = "+14255550100"
ANONYMOUS = "4:anonymous"
AS_SENT = {"rawId": ANONYMOUS, "phoneNumber": {"value": "anonymous", "isAnonymous": True}}


@pytest.fixture
def answered(tenant, sdk_client, callbacks, grid_receiver, gateway):
    """An anonymous caller (who presses 5 four seconds in) rang; the app answered."""
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)
    subscriptions.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[],
                                   actor=None)  # fmt: skip
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=ANONYMOUS, keys=[[4.0, "5"]])
    incoming_verbs.simulate_incoming_call(
        tenant, to_number=OUR_NUMBER, caller=Identifier(PHONE_NUMBER, ANONYMOUS)
    )
    gateway.advance(0)
    [offer] = grid_receiver.of_type("IncomingCall")
    assert offer["data"]["from"]["rawId"] == ANONYMOUS
    client = sdk_client()
    props = client.answer_call(offer["data"]["incomingCallContext"], callbacks.url)
    gateway.advance(0.5)
    return client.get_call_connection(props.call_connection_id)


def test_the_app_plays_to_recognizes_mutes_and_removes_an_anonymous_caller(
    answered, callbacks, gateway
):
    [caller] = list(answered.list_participants())
    anonymous = caller.identifier  # rebuilt by the SDK from the rawId: isAnonymous
    assert anonymous.raw_id == ANONYMOUS

    answered.play_media(TextSource(text="Hi."), play_to=[anonymous])
    answered.start_recognizing_media(
        RecognizeInputType.DTMF, PhoneNumberIdentifier("anonymous"),
        dtmf_max_tones_to_collect=1, initial_silence_timeout=10,
    )  # fmt: skip
    gateway.advance(6)
    assert answered.get_participant(anonymous).identifier.raw_id == ANONYMOUS
    answered.mute_participant(anonymous)
    gateway.advance(0.5)
    assert Participant.unscoped.get(raw_id=ANONYMOUS).is_muted
    answered.remove_participant(anonymous)
    gateway.advance(0.5)

    assert callbacks.of_type("PlayCompleted")
    [recognized] = callbacks.of_type("RecognizeCompleted")
    assert recognized["data"]["dtmfResult"]["tones"] == ["five"]
    assert callbacks.of_type("RemoveParticipantSucceeded")
    assert Participant.unscoped.get(raw_id=ANONYMOUS).state == Participant.State.DISCONNECTED


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("participants:add", {"participantToAdd": AS_SENT}, "participantToAdd"),
        ("participants:add", {"participantToAdd": {"rawId": ANONYMOUS}}, "participantToAdd"),
        (":transferToParticipant", {"targetParticipant": AS_SENT}, "targetParticipant"),
    ],
)
def test_nobody_can_call_anonymous(client, tenant, answered, gateway, path, body, field):
    """Naming the anonymous caller is fine; dialling "anonymous" is a bad request."""
    before = Participant.unscoped.count()
    connection = f"callConnections/{CallConnection.unscoped.get().call_connection_id}"
    response = signed(client, tenant, "POST", f"{connection}{'/' if path[0] != ':' else ''}{path}",
                      body)  # fmt: skip

    assert_error(response, 400, mentions=field)
    assert Participant.unscoped.count() == before


def test_an_anonymous_lookalike_is_still_refused(client, tenant, answered, gateway):
    """Only the exact anonymous forms pass: a mismatching rawId is a bad request."""
    body = {"targetParticipants": [{"rawId": "4:+14255550111", "phoneNumber": {
        "value": "anonymous", "isAnonymous": True}}]}  # fmt: skip
    connection = f"callConnections/{CallConnection.unscoped.get().call_connection_id}"
    response = signed(client, tenant, "POST", f"{connection}/participants:mute", body)

    assert_error(response, 400, mentions="targetParticipants[0]")
