"""The softphone portal page, its polled state, its actions and its audio endpoint."""

import uuid

import pytest
from django.urls import reverse

from calls import call_verbs, media_verbs, softphone
from calls.identifiers import Identifier
from calls.models import CallConnection, CarrierCommand, Participant, SimulatedCallee
from carrier.media.audio import Audio
from carrier.media.play_sources import PlaySource, load
from tenants import services as tenant_services
from tenants.models import Membership
from tests.factories import add_member

pytestmark = pytest.mark.django_db

Role = Membership.Role
NUMBER = "+14255550100"
PERSON = "+14255550199"
PROMPT = "Press one to confirm your appointment."


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


def url(name: str, slug: str = "acme", **kwargs: object) -> str:
    return reverse(f"portal:{name}", kwargs={"tenant_slug": slug, **kwargs})


@pytest.fixture
def identity(tenant):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    return softphone.add_identity(tenant, PERSON, actor=None)


@pytest.fixture
def leg(tenant, identity, gateway) -> Participant:
    """The app calls the person; the person's leg, ringing."""
    call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(PERSON)],
        callback_uri="https://app.example.com/callbacks",
        source_caller_id=NUMBER,
    )
    gateway.advance(1)
    return Participant.unscoped.get(raw_id=f"4:{PERSON}")


@pytest.fixture
def connected(tenant, leg, gateway) -> Participant:
    softphone.answer_leg(tenant, str(leg.leg_id), actor=None)
    gateway.advance(1)
    leg.refresh_from_db()
    return leg


def act(client, leg: Participant, slug: str = "acme", **data: str):
    return client.post(url("softphone_leg", slug, leg_id=leg.leg_id), data)


# --- the page -------------------------------------------------------------------------


def test_a_viewer_sees_the_page_without_the_forms_that_act(client, member_client, identity):
    member_client(Role.VIEWER)

    response = client.get(url("softphone"))

    page = response.content.decode()
    assert response.status_code == 200
    assert f"4:{PERSON}" in page  # the only identity is chosen
    assert 'data-can-act="0"' in page
    assert "Call a number" not in page
    assert "New identity" not in page
    assert "softphone.js" in page


def test_an_operator_adds_an_identity_and_lands_on_it(client, member_client, tenant):
    member_client(Role.OPERATOR)

    response = client.post(url("softphone"), {"add": "1", "identity": "+1 425 555 0177"})

    callee = SimulatedCallee.objects.for_tenant(tenant).get()
    assert (callee.raw_id, callee.outcome) == ("4:+14255550177", "softphone")
    assert response.status_code == 302
    assert response["Location"].endswith(f"?as={callee.pk}")


def test_a_malformed_identity_is_refused_with_the_reason(client, member_client, tenant):
    member_client(Role.OPERATOR)

    response = client.post(url("softphone"), {"add": "1", "identity": "+1-800-FLOWERS"})

    assert response.status_code == 400
    assert "is not a phone number in E.164 form" in response.content.decode()
    assert not SimulatedCallee.objects.for_tenant(tenant).exists()


def test_a_viewer_cannot_add_an_identity(client, member_client, tenant):
    member_client(Role.VIEWER)

    response = client.post(url("softphone"), {"add": "1", "identity": PERSON})

    assert response.status_code == 403
    assert not SimulatedCallee.objects.for_tenant(tenant).exists()


def test_an_operator_calls_a_tenant_number(client, member_client, identity):
    member_client(Role.OPERATOR)

    response = client.post(
        url("softphone"), {"call": "1", "as": str(identity.pk), "to_number": NUMBER}
    )

    assert response.status_code == 302
    command = CarrierCommand.unscoped.get(kind=CarrierCommand.Kind.ORIGINATE)
    assert (command.payload["caller"], command.payload["to"]) == (f"4:{PERSON}", NUMBER)


def test_calling_a_number_the_tenant_does_not_own_is_refused(client, member_client, identity):
    member_client(Role.OPERATOR)

    response = client.post(
        url("softphone"), {"call": "1", "as": str(identity.pk), "to_number": "+14255559999"}
    )

    assert response.status_code == 400
    assert "is not one of this tenant&#x27;s phone numbers" in response.content.decode()
    assert not CarrierCommand.unscoped.filter(kind=CarrierCommand.Kind.ORIGINATE).exists()


def test_a_viewer_cannot_call_a_number(client, member_client, identity):
    member_client(Role.VIEWER)

    response = client.post(
        url("softphone"), {"call": "1", "as": str(identity.pk), "to_number": NUMBER}
    )

    assert response.status_code == 403
    assert not CarrierCommand.unscoped.filter(kind=CarrierCommand.Kind.ORIGINATE).exists()


def test_another_tenants_softphone_page_is_not_found(client, member_client, other_tenant):
    member_client(Role.OWNER)

    assert client.get(url("softphone", "globex")).status_code == 404


def test_another_tenants_identity_is_not_found(client, member_client, other_tenant):
    theirs = softphone.add_identity(other_tenant, PERSON, actor=None)
    member_client(Role.OWNER)

    assert client.get(url("softphone") + f"?as={theirs.pk}").status_code == 404
    assert client.get(url("softphone_state") + f"?as={theirs.pk}").status_code == 404


# --- the polled state ---------------------------------------------------------------------


def test_the_state_lists_a_ringing_call_with_its_ids(client, member_client, identity, leg):
    member_client(Role.VIEWER)

    response = client.get(url("softphone_state") + f"?as={identity.pk}")

    [shown] = response.json()["legs"]
    assert shown["leg_id"] == str(leg.leg_id)
    assert (shown["state"], shown["direction"], shown["other"]) == ("ringing", "incoming", NUMBER)
    assert shown["server_call_id"] == leg.call.server_call_id
    assert shown["media"] is None
    assert shown["headers"] == {}


def test_the_state_shows_the_headers_the_app_sent(client, member_client, identity, leg):
    Participant.unscoped.filter(pk=leg.pk).update(
        custom_context={"sipHeaders": {"X-MS-Custom-Order": "A-1"}, "voipHeaders": {"t": "2"}}
    )
    member_client(Role.VIEWER)

    [shown] = client.get(url("softphone_state") + f"?as={identity.pk}").json()["legs"]

    assert shown["headers"] == {"X-MS-Custom-Order": "A-1", "t": "2"}


def test_the_state_names_the_audio_playing_to_a_connected_call(
    client, member_client, tenant, identity, connected, gateway
):
    connection = CallConnection.unscoped.get(call_id=connected.call_id)
    op = media_verbs.play(
        tenant,
        connection.call_connection_id,
        sources=[PlaySource(kind="text", text="Hello.")],
        play_to=[],
        loop=True,
    )
    gateway.advance(0)
    member_client(Role.VIEWER)

    response = client.get(url("softphone_state") + f"?as={identity.pk}")

    [shown] = response.json()["legs"]
    assert shown["state"] == "connected"
    assert shown["media"] == {
        "op_id": str(op.op_id),
        "kind": "play",
        "audio_url": url("softphone_audio", op_id=op.op_id),
        "loop": True,
    }


# --- actions ------------------------------------------------------------------------------


def test_an_operator_answers_a_ringing_call(client, member_client, leg, gateway):
    member_client(Role.OPERATOR)

    response = act(client, leg, action="answer")
    gateway.advance(0)

    assert response.json() == {"ok": True}
    leg.refresh_from_db()
    assert leg.state == Participant.State.CONNECTED


def test_an_operator_presses_a_key_on_a_connected_call(client, member_client, connected):
    member_client(Role.OPERATOR)

    response = act(client, connected, action="press", key="#")

    assert response.status_code == 200
    command = CarrierCommand.unscoped.get(kind=CarrierCommand.Kind.PRESS)
    assert (command.participant_id, command.payload) == (connected.pk, {"key": "#"})


def test_a_bad_key_is_a_400_naming_the_field(client, member_client, connected):
    member_client(Role.OPERATOR)

    response = act(client, connected, action="press", key="Z")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert error["details"][0]["target"] == "key"
    assert not CarrierCommand.unscoped.filter(kind=CarrierCommand.Kind.PRESS).exists()


def test_an_unknown_action_is_a_400_naming_the_field(client, member_client, leg):
    member_client(Role.OPERATOR)

    response = act(client, leg, action="transfer")

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["target"] == "action"


def test_answering_a_call_that_is_not_ringing_is_a_409(client, member_client, connected):
    member_client(Role.OPERATOR)

    response = act(client, connected, action="answer")

    assert response.status_code == 409
    assert response.json()["error"]["message"] == "This call is not ringing you."


def test_another_tenants_leg_is_a_404(client, member_client, other_tenant, leg):
    # globex's operator, with the same identity on globex's softphone, reaches for acme's leg.
    softphone.add_identity(other_tenant, PERSON, actor=None)
    add_member(other_tenant, Role.OPERATOR, username="globex-operator")
    client.force_login(Membership.unscoped.get(user__username="globex-operator").user)

    response = act(client, leg, slug="globex", action="hang_up")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
    assert not CarrierCommand.unscoped.filter(kind=CarrierCommand.Kind.CALLEE_HANG_UP).exists()


def test_an_unknown_leg_is_a_404(client, member_client, identity):
    member_client(Role.OPERATOR)

    response = client.post(url("softphone_leg", leg_id=uuid.uuid4()), {"action": "answer"})

    assert response.status_code == 404


def test_a_viewer_cannot_act_on_a_call(client, member_client, leg):
    member_client(Role.VIEWER)

    response = act(client, leg, action="answer")

    assert response.status_code == 403
    assert not CarrierCommand.unscoped.filter(kind=CarrierCommand.Kind.CALLEE_ANSWER).exists()


def test_the_leg_endpoint_takes_only_posts(client, member_client, leg):
    member_client(Role.OPERATOR)

    assert client.get(url("softphone_leg", leg_id=leg.leg_id)).status_code == 405


# --- audio --------------------------------------------------------------------------------


def test_the_audio_of_a_recognize_is_its_prompt_as_wav(
    client, member_client, tenant, connected, gateway
):
    connection = CallConnection.unscoped.get(call_id=connected.call_id)
    prompt = PlaySource(kind="text", text=PROMPT)
    op = media_verbs.recognize_dtmf(
        tenant, connection.call_connection_id, target=Identifier.phone(PERSON), prompts=[prompt]
    )
    member_client(Role.VIEWER)

    response = client.get(url("softphone_audio", op_id=op.op_id))

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    heard = Audio.from_wav(response.content)
    assert heard.duration == pytest.approx(load(prompt, tenant_id=tenant.pk).duration)
    assert heard.duration > 1  # real speech, not an empty file
    assert client.get(url("softphone_audio", op_id=op.op_id)).content == response.content


def test_the_audio_of_sent_tones_has_the_carriers_timing(client, member_client, tenant, connected):
    connection = CallConnection.unscoped.get(call_id=connected.call_id)
    op = media_verbs.send_dtmf(
        tenant,
        connection.call_connection_id,
        tones=["one", "two", "pound"],
        target=Identifier.phone(PERSON),
    )
    member_client(Role.VIEWER)

    response = client.get(url("softphone_audio", op_id=op.op_id))

    assert Audio.from_wav(response.content).duration == pytest.approx(3 * 0.1 + 2 * 0.05)


def test_another_tenants_audio_is_not_found(client, member_client, other_tenant, connected):
    op = media_verbs.send_dtmf(
        connected.tenant,
        CallConnection.unscoped.get(call_id=connected.call_id).call_connection_id,
        tones=["one"],
        target=Identifier.phone(PERSON),
    )
    add_member(other_tenant, Role.VIEWER, username="globex-viewer")
    client.force_login(Membership.unscoped.get(user__username="globex-viewer").user)

    assert client.get(url("softphone_audio", "globex", op_id=op.op_id)).status_code == 404
