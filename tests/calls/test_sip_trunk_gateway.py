"""The gateway carrying SIP trunks, against SIPp (issue 14): a leg goes out over the
trunk of the number it is placed from; SIP final answers become ACS results; an incoming
call is offered by its DID as IncomingCall, only by the trunk its number is bound to; a
restarted gateway BYEs the dialogs it can no longer carry."""

import pytest

from calls import call_verbs, incoming_verbs, participant_verbs
from calls.identifiers import Identifier
from calls.models import Call, Participant
from tenants import services as tenant_services
from tenants import trunks
from tenants.models import Trunk
from tests.calls.sip_gateway import SipGateway
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp
from webhooks import subscriptions

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]

OURS = "+14255550100"
CALLEE = "+14255550123"
NO_TE = {"TE": "", "TEMAP": ""}


def trunk_to(tenant, port: int, **settings) -> Trunk:
    tenant_services.add_phone_number(tenant, OURS, actor=None)
    return trunks.save_trunk(
        tenant, actor=None, name="SIPp", proxy_host="127.0.0.1", proxy_port=port,
        phone_numbers=[OURS], **settings,
    )  # fmt: skip


def place(tenant, callback_uri: str) -> Call:
    connection = call_verbs.create_call(
        tenant, targets=[Identifier.phone(CALLEE)], callback_uri=callback_uri,
        source_caller_id=OURS,
    )  # fmt: skip
    return connection.call


def test_a_busy_callee_fails_the_call_with_486_in_the_acs_result(
    tenant, callbacks, sip_gateway, tmp_path
):
    with sipp(tmp_path, "-sf", str(scenario("uas_busy.xml", tmp_path))) as peer:
        trunk_to(tenant, peer.port)
        sip_gateway.sync()
        call = place(tenant, callbacks.url)
        sip_gateway.run_until(lambda: callbacks.of_type("CreateCallFailed"))
        assert peer.wait() == 0, peer.output()

    info = callbacks.of_type("CreateCallFailed")[0]["data"]["resultInformation"]
    assert info["code"] == 486
    assert info["sipDetails"]["code"] == 486
    leg = Participant.unscoped.get(call=call)
    sip_gateway.run_until(lambda: Participant.unscoped.get(pk=leg.pk).sip_trace)
    leg.refresh_from_db()
    assert (leg.sip_code, leg.end_code) == (486, 486)


def test_a_trunk_nobody_answers_on_fails_the_call_with_its_sip_code(tenant, callbacks, sip_gateway):
    # Nothing listens on the proxy's port: Timer B (6.4 s with T1 = 100 ms) gives 408.
    trunk_to(tenant, 9)
    sip_gateway.sync()
    place(tenant, callbacks.url)

    sip_gateway.run_until(lambda: callbacks.of_type("CreateCallFailed"), timeout=20)

    info = callbacks.of_type("CreateCallFailed")[0]["data"]["resultInformation"]
    assert info["code"] == 408
    assert info["sipDetails"]["code"] == 408


def test_a_number_on_a_disabled_trunk_fails_with_503(tenant, callbacks, sip_gateway):
    trunk = trunk_to(tenant, 9)
    trunks.save_trunk(tenant, actor=None, trunk=trunk, enabled=False)
    Trunk.unscoped.filter(pk=trunk.pk).update(enabled=True)  # enabled, but not carried here
    place(tenant, callbacks.url)

    sip_gateway.run_until(lambda: callbacks.of_type("CreateCallFailed"))

    info = callbacks.of_type("CreateCallFailed")[0]["data"]["resultInformation"]
    assert (info["code"], info["sipDetails"]["code"]) == (500, 503)


def test_an_incoming_sip_call_is_offered_by_its_did_answered_and_hung_up_by_the_caller(
    tenant, callbacks, grid_receiver, sip_gateway, tmp_path
):
    subscriptions.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[],
                                   actor=None)  # fmt: skip
    trunk = trunk_to(tenant, 9)
    sip_gateway.sync()
    port = sip_gateway.fleet.carrier(trunk.pk).sip_port
    path = scenario("uac_number.xml", tmp_path, FROM="14255550177", HOLD="1500")
    with sipp(tmp_path, "-sf", str(path), "-s", OURS.lstrip("+"),
              target=f"127.0.0.1:{port}") as peer:  # fmt: skip
        sip_gateway.run_until(lambda: grid_receiver.of_type("IncomingCall"))
        [offer] = grid_receiver.of_type("IncomingCall")
        incoming_verbs.answer_call(
            tenant, incoming_call_context=offer["data"]["incomingCallContext"],
            callback_uri=callbacks.url,
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()

    assert offer["data"]["to"]["rawId"] == f"4:{OURS}"
    assert offer["data"]["from"]["rawId"] == "4:+14255550177"
    assert Participant.unscoped.get(role="caller").trunk_id == trunk.pk


def test_a_trunk_cannot_deliver_calls_to_a_number_not_bound_to_it(
    tenant, other_tenant, grid_receiver, sip_gateway, tmp_path
):
    tenant_services.add_phone_number(other_tenant, "+14255550155", actor=None)
    trunk = trunk_to(tenant, 9)
    sip_gateway.sync()
    port = sip_gateway.fleet.carrier(trunk.pk).sip_port
    path = scenario("uac_number.xml", tmp_path, FROM="14255550177", HOLD="100")
    with sipp(tmp_path, "-sf", str(path), "-s", "14255550155", timeout="3s",
              target=f"127.0.0.1:{port}"):  # fmt: skip
        sip_gateway.run_for(1.5)

    assert not Call.unscoped.exists()


def test_a_restarted_gateway_byes_the_sip_calls_it_lost(tenant, callbacks, tmp_path):
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    first = SipGateway(gateway_id="gw-a")
    with sipp(tmp_path, "-sf", str(path), echo=True, timeout="30s") as peer:
        trunk = trunk_to(tenant, peer.port)
        first.sync()
        call = place(tenant, callbacks.url)
        first.run_until(lambda: callbacks.of_type("CallConnected"))
        # The process dies: its SIP loop stops without a word to the far end.
        lost = first.fleet.carrier(trunk.pk)
        lost._loop.call_soon_threadsafe(lost._loop.stop)
        second = SipGateway(gateway_id="gw-a")
        try:
            second.sync()
            assert second.gateway.reconcile() == 1
            assert peer.wait(timeout=10) == 0, peer.output()  # the BYE came from the new run
        finally:
            second.close()

    call.refresh_from_db()
    assert call.state == Call.State.DISCONNECTED


def test_a_sip_caller_whose_user_is_not_a_number_is_offered_as_anonymous(
    tenant, callbacks, grid_receiver, sip_gateway, tmp_path
):
    subscriptions.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[],
                                   actor=None)  # fmt: skip
    trunk = trunk_to(tenant, 9)
    sip_gateway.sync()
    port = sip_gateway.fleet.carrier(trunk.pk).sip_port
    # SIPp's built-in uac calls from "sipp <sip:sipp@...>", then hangs up after 500 ms.
    with sipp(tmp_path, "-sn", "uac", "-s", OURS.lstrip("+"), "-d", "500",
              target=f"127.0.0.1:{port}") as peer:  # fmt: skip
        sip_gateway.run_until(lambda: grid_receiver.of_type("IncomingCall"))
        [offer] = grid_receiver.of_type("IncomingCall")
        incoming_verbs.answer_call(
            tenant, incoming_call_context=offer["data"]["incomingCallContext"],
            callback_uri=callbacks.url,
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()

    assert offer["data"]["from"] == {
        "kind": "phoneNumber", "rawId": "4:anonymous", "phoneNumber": {"value": "anonymous"},
    }  # fmt: skip


def test_a_participant_added_over_the_trunk_joins_and_both_legs_get_bye(
    tenant, callbacks, sip_gateway, tmp_path
):
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(path), echo=True, calls=2) as peer:
        trunk_to(tenant, peer.port)
        sip_gateway.sync()
        connection = call_verbs.create_call(
            tenant, targets=[Identifier.phone(CALLEE)], callback_uri=callbacks.url,
            source_caller_id=OURS,
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        participant_verbs.add_participant(
            tenant, connection.call_connection_id, target=Identifier.phone("+14255550124")
        )
        sip_gateway.run_until(lambda: callbacks.of_type("AddParticipantSucceeded"))
        call_verbs.terminate(tenant, connection.call_connection_id)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()  # both calls got their BYE

    legs = Participant.unscoped.filter(call=connection.call)
    assert {leg.trunk_id for leg in legs} == {Trunk.unscoped.get().pk}


def test_the_gateway_writes_a_registered_trunks_status(tenant, sip_gateway, tmp_path):
    with sipp(tmp_path, "-sf", str(scenario("uas_register.xml", tmp_path))) as peer:
        trunk = trunk_to(tenant, peer.port, username="gw", password="secret", register=True)
        sip_gateway.sync()
        carrier = sip_gateway.fleet.carrier(trunk.pk)
        # The registrar grants 1 s, so the refresh comes at once and gets 600 s.
        sip_gateway.run_until(lambda: carrier.status()["registration"].get("expires") == 600)
        assert peer.wait() == 0, peer.output()
    sip_gateway.fleet.check()

    trunk.refresh_from_db()
    assert (trunk.registration_state, trunk.registration_status) == ("registered", 200)
    assert trunk.status_at is not None
    assert "gateway-1" in trunk.status_gateway


def test_the_gateway_pings_its_trunks_and_writes_the_round_trip(tenant, sip_gateway, tmp_path):
    with sipp(tmp_path, "-sf", str(scenario("uas_options.xml", tmp_path))) as peer:
        trunk = trunk_to(tenant, peer.port)
        sip_gateway.sync()
        sip_gateway.fleet.check()  # no answer yet: nothing seen; pings
        carrier = sip_gateway.fleet.carrier(trunk.pk)
        sip_gateway.run_until(lambda: carrier.status()["ping"].get("status"))
        assert peer.wait() == 0, peer.output()
    sip_gateway.fleet.check()

    trunk.refresh_from_db()
    assert trunk.ping_status == 200
    assert 0 < trunk.ping_rtt_ms < 1000
    assert trunk.registration_state == "off"


def test_ping_now_from_the_portal_is_answered_by_the_gateway(tenant, sip_gateway, tmp_path):
    with sipp(tmp_path, "-sf", str(scenario("uas_options.xml", tmp_path))) as peer:
        trunk = trunk_to(tenant, peer.port)
        sip_gateway.sync()
        assert trunks.request_ping(tenant, trunk.pk)
        answered = lambda: not Trunk.unscoped.get(pk=trunk.pk).ping_requested_at  # noqa: E731
        sip_gateway.run_until(lambda: sip_gateway.fleet.answer_ping_requests() or answered())
        assert peer.wait() == 0, peer.output()

    trunk.refresh_from_db()
    assert trunk.ping_status == 200
    assert 0 < trunk.ping_rtt_ms < 1000
    assert "gateway-1" in trunk.status_gateway


def test_a_call_transferred_over_the_trunk_leaves_the_two_sip_legs_together(
    tenant, callbacks, sip_gateway, tmp_path
):
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(path), echo=True, calls=2) as peer:
        trunk_to(tenant, peer.port)
        sip_gateway.sync()
        connection = call_verbs.create_call(
            tenant, targets=[Identifier.phone(CALLEE)], callback_uri=callbacks.url,
            source_caller_id=OURS,
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        participant_verbs.transfer_to_participant(
            tenant, connection.call_connection_id, target=Identifier.phone("+14255550124")
        )
        sip_gateway.run_until(lambda: callbacks.of_type("CallTransferAccepted"))
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))  # the app left
        call = Call.unscoped.get(pk=connection.call_id)
        assert call.state == Call.State.CONNECTED  # the two people talk on
        live = Participant.unscoped.filter(call=call, state=Participant.State.CONNECTED)
        assert live.count() == 2
        call_verbs.terminate_call(tenant, call.pk)
        sip_gateway.run_until(lambda: not sip_gateway.router.live_legs())
        assert peer.wait() == 0, peer.output()  # both legs got their BYE
