"""Out-of-call participant control by serverCallId: a peer-to-peer support call, the
service brings in an expert without joining, and removes them again."""

import pytest

from calls.models import CallEvent, Participant, SimulatedCallee
from tests.calls.api_support import TEAMS, assert_error, phone, signed
from tests.calls.conftest import AGENT, CUSTOMER, EXPERT, OUR_NUMBER

pytestmark = pytest.mark.django_db(transaction=True)


def add_body(callbacks, number=EXPERT, **changes):
    return {
        "participantToAdd": phone(number),
        "sourceCallerIdNumber": {"value": OUR_NUMBER},
        "callbackUri": callbacks.url,
        "operationContext": "bring-expert",
        **changes,
    }


def test_a_p2p_call_is_announced_with_its_server_call_id(p2p, grid_receiver):
    [started] = grid_receiver.of_type("CallStarted")

    assert started["data"]["serverCallId"] == p2p.server_call_id
    assert {p["rawId"] for p in started["data"]["participants"]} == {CUSTOMER, AGENT}


def test_an_expert_is_added_and_removed_without_the_app_joining(
    client, tenant, p2p, callbacks, gateway
):
    path = f"serverCalls/{p2p.server_call_id}/participants"

    response = signed(client, tenant, "POST", f"{path}:add", add_body(callbacks))
    gateway.advance(2)

    assert response.status_code == 202
    assert response.json()["invitationId"]
    [added] = callbacks.of_type("AddParticipantSucceeded")
    assert added["data"]["operationContext"] == "bring-expert"
    assert added["subject"] == f"calling/serverCalls/{p2p.server_call_id}"
    assert "callConnectionId" not in added["data"]
    roster = callbacks.of_type("ParticipantsUpdated")[-1]["data"]["participants"]
    assert {p["identifier"]["rawId"] for p in roster} == {CUSTOMER, AGENT, f"4:{EXPERT}"}
    assert not p2p.connections.exists()

    removed = signed(
        client,
        tenant,
        "POST",
        f"{path}:remove",
        {"participantToRemove": phone(EXPERT), "callbackUri": callbacks.url},
    )

    assert removed.status_code == 202
    assert callbacks.of_type("RemoveParticipantSucceeded")
    roster = callbacks.of_type("ParticipantsUpdated")[-1]["data"]["participants"]
    assert len(roster) == 2


def test_a_busy_expert_reports_add_participant_failed(client, tenant, p2p, callbacks, gateway):
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=f"4:{EXPERT}", outcome="busy")
    path = f"serverCalls/{p2p.server_call_id}/participants:add"

    signed(client, tenant, "POST", path, add_body(callbacks))
    gateway.advance(2)

    [failed] = callbacks.of_type("AddParticipantFailed")
    assert failed["data"]["resultInformation"]["code"] == 486


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        ({"callbackUri": None}, "callbackUri"),
        ({"participantToAdd": {"rawId": 5}}, "participantToAdd"),
        ({"participantToAdd": TEAMS}, "Teams"),
        ({"sourceCallerIdNumber": {"value": "+14255550199"}}, "not one of this tenant's"),
        ({"invitationTimeoutInSeconds": 0}, "invitationTimeoutInSeconds"),
    ],
)
def test_bad_out_of_call_adds_are_refused(client, tenant, p2p, callbacks, changes, mentions):
    body = {k: v for k, v in add_body(callbacks, **changes).items() if v is not None}
    before = Participant.unscoped.count()

    response = signed(
        client, tenant, "POST", f"serverCalls/{p2p.server_call_id}/participants:add", body
    )

    assert_error(response, 400, mentions=mentions)
    assert Participant.unscoped.count() == before


def test_removing_someone_not_in_the_call_is_refused(client, tenant, p2p, callbacks):
    response = signed(
        client,
        tenant,
        "POST",
        f"serverCalls/{p2p.server_call_id}/participants:remove",
        {"participantToRemove": phone(EXPERT), "callbackUri": callbacks.url},
    )

    assert_error(response, 400, code="ParticipantNotFound")


def test_another_tenants_server_call_is_not_found(client, other_tenant, p2p, callbacks):
    before = CallEvent.unscoped.count()

    for verb, body in [
        ("add", add_body(callbacks)),
        ("remove", {"participantToRemove": phone(EXPERT), "callbackUri": callbacks.url}),
    ]:
        response = signed(
            client,
            other_tenant,
            "POST",
            f"serverCalls/{p2p.server_call_id}/participants:{verb}",
            body,
        )
        assert_error(response, 404, code="8522")
    assert CallEvent.unscoped.count() == before
    assert Participant.unscoped.filter(call=p2p).count() == 2
