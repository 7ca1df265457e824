"""Reject and redirect of an incoming SIP call through the API verbs, against SIPp
(issue 14): the ACS reject reason becomes the SIP final response the caller receives
(SIPp fails on any other status), and a redirect dials the target over the trunk and
connects the waiting caller to it once it answers."""

import pytest

from calls import incoming_verbs
from calls.identifiers import Identifier
from calls.models import Call, Participant
from tests.calls.test_sip_trunk_gateway import CALLEE, NO_TE, OURS, trunk_to
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp
from webhooks import subscriptions

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]


def offered(tenant, grid_receiver, sip_gateway) -> str:
    sip_gateway.run_until(lambda: grid_receiver.of_type("IncomingCall"))
    [offer] = grid_receiver.of_type("IncomingCall")
    return offer["data"]["incomingCallContext"]


@pytest.mark.parametrize(("reason", "status"), [("busy", 486), ("forbidden", 403), ("none", 603)])
def test_a_rejected_incoming_sip_call_gets_the_reasons_sip_status(
    tenant, grid_receiver, sip_gateway, tmp_path, reason, status
):
    subscriptions.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[],
                                   actor=None)  # fmt: skip
    trunk = trunk_to(tenant, 9)
    sip_gateway.sync()
    carrier = sip_gateway.fleet.carrier(trunk.pk)
    path = scenario("uac_rejected.xml", tmp_path, FROM="14255550177", STATUS=str(status))
    with sipp(tmp_path, "-sf", str(path), "-s", OURS.lstrip("+"),
              target=f"127.0.0.1:{carrier.sip_port}") as peer:  # fmt: skip
        context = offered(tenant, grid_receiver, sip_gateway)
        incoming_verbs.reject_call(tenant, incoming_call_context=context, reason=reason)
        sip_gateway.run_until(lambda: not carrier.live_legs())
        assert peer.wait() == 0, peer.output()  # it got exactly `status`, and ACKed it
        sip_gateway.run_for(0.5)  # a final response not ACKed would be resent by now

    assert carrier.status()["retransmissions"] == 0
    call = Call.unscoped.get()
    assert (call.state, call.end_code) == (Call.State.DISCONNECTED, status)


def test_a_redirected_incoming_sip_call_rings_the_target_over_the_trunk_and_joins_it(
    tenant, grid_receiver, sip_gateway, tmp_path
):
    subscriptions.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[],
                                   actor=None)  # fmt: skip
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(echo), echo=True, name="target") as target:
        trunk = trunk_to(tenant, target.port)
        sip_gateway.sync()
        carrier = sip_gateway.fleet.carrier(trunk.pk)
        path = scenario("uac_number.xml", tmp_path, FROM="14255550177", HOLD="1500")
        with sipp(tmp_path, "-sf", str(path), "-s", OURS.lstrip("+"), name="caller",
                  target=f"127.0.0.1:{carrier.sip_port}") as caller:  # fmt: skip
            context = offered(tenant, grid_receiver, sip_gateway)
            incoming_verbs.redirect_call(
                tenant, incoming_call_context=context, target=Identifier.phone(CALLEE)
            )
            legs = Participant.unscoped.filter(state=Participant.State.CONNECTED)
            sip_gateway.run_until(lambda: legs.count() == 2)
            # Both legs are in one mix group of the trunk's engine: they hear each other.
            groups = {carrier.engine.legs[str(leg.leg_id)].call for leg in legs}
            assert len(groups) == 1
            assert caller.wait() == 0, caller.output()  # answered, then hung up
            sip_gateway.run_until(lambda: not carrier.live_legs())
        assert target.wait() == 0, target.output()  # the target got its BYE

    roles = dict(Participant.unscoped.values_list("role", "trunk_id"))
    assert roles == {Participant.Role.CALLER: trunk.pk, Participant.Role.REDIRECT: trunk.pk}
