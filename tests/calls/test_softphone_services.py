"""The softphone's verbs: a person answers, declines, presses keys, hangs up and calls the
tenant's numbers, through the real gateway and simulated carrier on a virtual clock."""

import pytest
from django.core.exceptions import ValidationError

from callauto.errors import BadRequest, Conflict, NotFound
from calls import call_verbs, incoming, incoming_verbs, media_verbs, softphone
from calls.callees import save_callee
from calls.identifiers import Identifier
from calls.models import Call, CallConnection, CarrierCommand, MediaOperation, Participant
from carrier.media.play_sources import PlaySource
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)

P = Participant.State
NUMBER = "+14255550100"
PERSON = "+14255550199"


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def identity(tenant):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    return softphone.add_identity(tenant, PERSON, actor=None)


@pytest.fixture
def ringing(tenant, identity, callbacks, gateway) -> Participant:
    """The app calls the person; returns the person's leg, ringing."""
    call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(PERSON)],
        callback_uri=callbacks.url,
        source_caller_id=NUMBER,
    )
    gateway.advance(1)
    return Participant.unscoped.get(raw_id=f"4:{PERSON}")


def state_of(participant: Participant) -> str:
    participant.refresh_from_db()
    return participant.state


def test_an_acs_user_can_be_a_softphone_identity(tenant):
    callee = softphone.add_identity(tenant, " 8:acs:resource_person ", actor=None)

    assert (callee.raw_id, callee.outcome) == ("8:acs:resource_person", "softphone")
    assert list(softphone.identities(tenant)) == [callee]


def test_a_number_with_another_script_cannot_become_a_softphone_identity(tenant):
    save_callee(tenant, actor=None, raw_id=f"4:{PERSON}", outcome="busy")

    with pytest.raises(ValidationError, match="already has a script"):
        softphone.add_identity(tenant, PERSON, actor=None)
    assert list(softphone.identities(tenant)) == []


def test_a_call_to_a_softphone_identity_rings_until_the_person_answers(
    tenant, ringing, callbacks, gateway
):
    gateway.advance(30)
    assert state_of(ringing) == P.INVITED

    softphone.answer_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(0)

    assert state_of(ringing) == P.CONNECTED
    assert "CallConnected" in callbacks.types()


def test_a_call_nobody_answers_times_out_as_no_answer(tenant, ringing, gateway):
    gateway.advance(61)

    ringing.refresh_from_db()
    assert (ringing.state, ringing.end_code) == (P.FAILED, 408)


def test_declining_a_ringing_call_fails_it_as_declined(tenant, ringing, callbacks, gateway):
    softphone.hang_up_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(0)

    ringing.refresh_from_db()
    assert (ringing.state, ringing.end_code) == (P.FAILED, 603)
    assert "CreateCallFailed" in callbacks.types()


def test_hanging_up_a_connected_call_ends_it(tenant, ringing, callbacks, gateway):
    softphone.answer_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(1)

    softphone.hang_up_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(0)

    assert state_of(ringing) == P.DISCONNECTED
    assert Call.unscoped.get(pk=ringing.call_id).state == Call.State.DISCONNECTED
    assert callbacks.types()[-1] == "CallDisconnected"


def test_a_key_the_person_presses_completes_a_running_recognize(
    tenant, ringing, callbacks, gateway
):
    softphone.answer_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(1)
    connection = CallConnection.unscoped.get(call_id=ringing.call_id)
    media_verbs.recognize_dtmf(
        tenant,
        connection.call_connection_id,
        target=Identifier.phone(PERSON),
        prompts=[PlaySource(kind="text", text="Press one to confirm.")],
        initial_silence=30,
    )
    gateway.advance(5)  # the prompt is over; recognition listens

    assert softphone.press_key(tenant, str(ringing.leg_id), "one", actor=None) == "1"
    gateway.advance(0)

    [event] = callbacks.of_type("RecognizeCompleted")
    assert event["data"]["dtmfResult"]["tones"] == ["one"]


@pytest.mark.parametrize(("text", "key"), [("1", "1"), ("pound", "#"), ("*", "*"), ("d", "D")])
def test_keys_are_read_by_character_or_by_tone_name(text, key):
    assert softphone.parse_key(text) == key


@pytest.mark.parametrize("text", ["", "11", "E", "hash", "1; DROP"])
def test_anything_else_is_not_a_key(text):
    with pytest.raises(BadRequest):
        softphone.parse_key(text)


def test_a_bad_key_is_refused_and_nothing_is_sent(tenant, ringing, gateway):
    softphone.answer_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(1)

    with pytest.raises(BadRequest):
        softphone.press_key(tenant, str(ringing.leg_id), "X", actor=None)

    assert not CarrierCommand.unscoped.filter(kind=CarrierCommand.Kind.PRESS).exists()


def test_keys_cannot_be_pressed_on_a_call_still_ringing(tenant, ringing):
    with pytest.raises(Conflict):
        softphone.press_key(tenant, str(ringing.leg_id), "1", actor=None)


def test_a_connected_call_cannot_be_answered_again(tenant, ringing, gateway):
    softphone.answer_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(1)

    with pytest.raises(Conflict):
        softphone.answer_leg(tenant, str(ringing.leg_id), actor=None)


def test_another_tenants_leg_is_not_found(other_tenant, ringing):
    softphone.add_identity(other_tenant, PERSON, actor=None)

    with pytest.raises(NotFound):
        softphone.answer_leg(other_tenant, str(ringing.leg_id), actor=None)


def test_a_leg_of_a_scripted_callee_is_not_a_softphone_leg(tenant, identity, callbacks, gateway):
    call_verbs.create_call(
        tenant,
        targets=[Identifier.phone("+14255550123")],
        callback_uri=callbacks.url,
        source_caller_id=NUMBER,
    )
    leg = Participant.unscoped.get(raw_id="4:+14255550123")

    with pytest.raises(NotFound):
        softphone.hang_up_leg(tenant, str(leg.leg_id), actor=None)


def test_a_malformed_leg_id_is_not_found(tenant, identity):
    with pytest.raises(NotFound):
        softphone.answer_leg(tenant, "not-a-uuid", actor=None)


def test_a_person_calls_a_tenant_number_and_stays_on_once_the_app_answers(
    tenant, identity, callbacks, gateway
):
    softphone.call_number(tenant, identity, to_number=NUMBER, actor=None)
    gateway.advance(0)
    call = Call.unscoped.get(direction=Call.Direction.INBOUND)
    [leg] = softphone.live_legs(tenant, identity)
    assert (leg.role, leg.state) == (Participant.Role.CALLER, P.INVITED)

    incoming_verbs.answer_call(
        tenant, incoming_call_context=incoming.make_context(call), callback_uri=callbacks.url
    )
    gateway.advance(600)

    assert state_of(leg) == P.CONNECTED
    softphone.hang_up_leg(tenant, str(leg.leg_id), actor=None)
    gateway.advance(0)
    assert Call.unscoped.get(pk=call.pk).state == Call.State.DISCONNECTED


def test_a_person_may_only_call_the_tenants_own_numbers(tenant, identity):
    with pytest.raises(BadRequest):
        softphone.call_number(tenant, identity, to_number="+14255559999", actor=None)


def test_what_plays_to_the_leg_is_the_running_operation(tenant, ringing, gateway):
    softphone.answer_leg(tenant, str(ringing.leg_id), actor=None)
    gateway.advance(1)
    connection = CallConnection.unscoped.get(call_id=ringing.call_id)
    op = media_verbs.play(
        tenant,
        connection.call_connection_id,
        sources=[PlaySource(kind="text", text="Hello.")],
        play_to=[],
    )
    gateway.advance(0)

    assert softphone.playing_to(ringing) == op
    gateway.advance(10)
    assert softphone.playing_to(ringing) is None
    assert MediaOperation.unscoped.get(pk=op.pk).state == MediaOperation.State.COMPLETED


def test_a_play_to_someone_else_is_not_playing_to_the_person(tenant, identity, callbacks, gateway):
    other = "+14255550123"  # unscripted: answers after 1 s
    connection = call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(PERSON), Identifier.phone(other)],
        callback_uri=callbacks.url,
        source_caller_id=NUMBER,
    )
    gateway.advance(1)
    [leg] = softphone.live_legs(tenant, identity)
    softphone.answer_leg(tenant, str(leg.leg_id), actor=None)
    gateway.advance(0)

    media_verbs.play(
        tenant,
        connection.call_connection_id,
        sources=[PlaySource(kind="text", text="Only for you.")],
        play_to=[Identifier.phone(other)],
        loop=True,
    )
    gateway.advance(0)

    assert MediaOperation.unscoped.get().state == MediaOperation.State.RUNNING
    assert softphone.playing_to(leg) is None
