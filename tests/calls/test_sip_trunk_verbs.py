"""The call verbs that README's "What works" listed as "same code, not yet tested on SIP",
through the official SDK (or HTTP for out of call) against SIPp on a trunk: remove of a SIP
leg, cancel of a ringing SIP invitation, the out-of-call remove, and mute (reject and
redirect: test_sip_incoming_verbs.py). Each SIPp scenario fails unless it sees the SIP it expects
(the final status, our CANCEL, our BYE), so `peer.wait() == 0` is the wire check."""

import numpy as np
import pytest
from azure.communication.callautomation import (
    CommunicationUserIdentifier,
    PhoneNumberIdentifier,
)

from calls.models import Call, Participant, SimulatedCallee
from recordings.models import RecordingChunk
from tenants import services as tenant_services
from tenants import trunks
from tests.calls.api_support import phone, signed
from tests.calls.test_sip_mixed_calls import stored_channels
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp
from tests.recordings.storage import temporary_recordings_storage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]

OURS = "+14255550100"  # the tenant's number, bound to the trunk
CALLEE = "+14255550123"
OTHER = "+14255550124"
USER = "8:acs:resource_user1"  # a simulated callee
NO_TE = {"TE": "", "TEMAP": ""}
P = Participant.State


def bind_trunk(tenant, port: int):
    tenant_services.add_phone_number(tenant, OURS, actor=None)
    return trunks.save_trunk(tenant, actor=None, name="SIPp", proxy_host="127.0.0.1",
                             proxy_port=port, phone_numbers=[OURS])  # fmt: skip


def leg_state(raw_id: str) -> str:
    return Participant.unscoped.filter(raw_id=raw_id).latest("pk").state


def leg_of(raw_id: str) -> str:
    return str(Participant.unscoped.filter(raw_id=raw_id).latest("pk").leg_id)


def test_removing_a_sip_leg_byes_it_and_the_call_goes_on(
    tenant, sdk_client, callbacks, sip_gateway, tmp_path
):
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(echo), echo=True, calls=2) as peer:
        bind_trunk(tenant, peer.port)
        sip_gateway.sync()
        props = sdk_client().create_call(
            PhoneNumberIdentifier(CALLEE), callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(OURS),
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        connection = sdk_client().get_call_connection(props.call_connection_id)
        connection.add_participant(PhoneNumberIdentifier(OTHER),
                                   source_caller_id_number=PhoneNumberIdentifier(OURS))  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("AddParticipantSucceeded"))
        assert len(sip_gateway.router.live_legs()) == 2

        connection.remove_participant(PhoneNumberIdentifier(OTHER))
        sip_gateway.run_until(lambda: callbacks.of_type("RemoveParticipantSucceeded"))
        sip_gateway.run_until(lambda: len(sip_gateway.router.live_legs()) == 1)
        assert leg_state(f"4:{OTHER}") == P.DISCONNECTED
        assert leg_state(f"4:{CALLEE}") == P.CONNECTED
        assert not callbacks.of_type("CallDisconnected")

        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()  # both SIP calls ended with a BYE


def test_cancelling_a_ringing_sip_invitation_sends_cancel(
    tenant, sdk_client, callbacks, sip_gateway, tmp_path
):
    """A call with a simulated user; a phone number added over the trunk rings (SIPp never
    answers); the app withdraws the invitation: CANCEL on the wire (SIPp answers 200 and 487),
    CancelAddParticipantSucceeded, and the call with the user goes on."""
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=USER, answer_after=0.2)
    ring = scenario("uas_ring.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(ring)) as peer:
        bind_trunk(tenant, peer.port)
        sip_gateway.sync()
        props = sdk_client().create_call(CommunicationUserIdentifier(USER), callbacks.url)
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        connection = sdk_client().get_call_connection(props.call_connection_id)
        invited = connection.add_participant(
            PhoneNumberIdentifier(CALLEE), source_caller_id_number=PhoneNumberIdentifier(OURS),
            invitation_timeout=30,
        )  # fmt: skip
        # SIPp's 180 has come once our INVITE is in its dialog list (ringing, not answered).
        sip_gateway.run_until(lambda: sip_gateway.router.live_legs() - {leg_of(USER)})
        sip_gateway.run_for(0.5)
        assert leg_state(f"4:{CALLEE}") == P.INVITED

        connection.cancel_add_participant_operation(invited.invitation_id)
        sip_gateway.run_until(lambda: callbacks.of_type("CancelAddParticipantSucceeded"))
        sip_gateway.run_until(lambda: peer.process.poll() is not None)
        assert peer.wait() == 0, peer.output()  # CANCEL came; 487 was ACKed

        assert not callbacks.of_type("AddParticipantSucceeded")
        assert leg_state(USER) == P.CONNECTED
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))

    [cancelled] = callbacks.of_type("CancelAddParticipantSucceeded")
    assert cancelled["data"]["invitationId"] == invited.invitation_id


def test_an_out_of_call_remove_byes_the_sip_leg_and_ends_the_call_left_with_one_person(
    tenant, client, sdk_client, callbacks, sip_gateway, tmp_path
):
    """A group call of two phone numbers over the trunk; the app leaves; a raw
    serverCalls/{id}/participants:remove of one leg BYEs it, and the other, now alone in a
    call with no app, is hung up too (both SIPp calls must end with our BYE)."""
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(echo), echo=True, calls=2) as peer:
        bind_trunk(tenant, peer.port)
        sip_gateway.sync()
        props = sdk_client().create_call(
            [PhoneNumberIdentifier(CALLEE), PhoneNumberIdentifier(OTHER)], callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(OURS),
        )  # fmt: skip
        sip_gateway.run_until(lambda: len(sip_gateway.router.live_legs()) == 2)
        sip_gateway.run_until(lambda: leg_state(f"4:{OTHER}") == P.CONNECTED)
        sdk_client().get_call_connection(props.call_connection_id).hang_up(is_for_everyone=False)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))  # the app left
        call = Call.unscoped.get()
        assert call.state == Call.State.CONNECTED

        body = {"participantToRemove": phone(OTHER), "callbackUri": callbacks.url}
        path = f"serverCalls/{call.server_call_id}/participants:remove"
        removed = signed(client, tenant, "POST", path, body)
        assert removed.status_code == 202, removed.content
        sip_gateway.run_until(lambda: callbacks.of_type("RemoveParticipantSucceeded"))
        sip_gateway.run_until(lambda: not sip_gateway.router.live_legs())
        assert peer.wait() == 0, peer.output()

    call.refresh_from_db()
    assert call.state == Call.State.DISCONNECTED
    assert leg_state(f"4:{OTHER}") == P.DISCONNECTED


def test_a_muted_sip_leg_is_no_longer_heard_in_the_calls_recording(
    tenant, sdk_client, callbacks, sip_gateway, tmp_path
):
    """A group call of a talking SIP leg (SIPp playing speech) and a simulated user,
    recorded unmixed: the SIP leg's channel carries speech until the app mutes it, then
    silence (a muted leg is left out of the mix and the recording, as on the simulator)."""
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=USER, answer_after=0.2)
    talk = scenario("uas_pcap.xml", tmp_path)
    with (
        temporary_recordings_storage(tmp_path / "recordings"),
        sipp(tmp_path, "-sf", str(talk)) as peer,
    ):
        bind_trunk(tenant, peer.port)
        sip_gateway.sync()
        client = sdk_client()
        props = client.create_call(
            [PhoneNumberIdentifier(CALLEE), CommunicationUserIdentifier(USER)], callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(OURS),
        )  # fmt: skip
        sip_gateway.run_until(lambda: len(sip_gateway.router.live_legs()) == 2)
        sip_gateway.run_until(lambda: leg_state(f"4:{CALLEE}") == P.CONNECTED)
        call = Call.unscoped.get()
        recording = client.start_recording(
            server_call_id=call.server_call_id, recording_channel_type="unmixed",
            recording_format_type="wav",
        )  # fmt: skip
        sip_gateway.run_for(2.0)
        connection = client.get_call_connection(props.call_connection_id)
        connection.mute_participant(PhoneNumberIdentifier(CALLEE))
        sip_gateway.run_for(2.0)
        client.stop_recording(recording.recording_id)
        sip_gateway.run_until(lambda: RecordingChunk.unscoped.exists())
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()
        tracks = stored_channels(RecordingChunk.unscoped.get())

    assert Participant.unscoped.get(raw_id=f"4:{CALLEE}").is_muted
    said = tracks[f"4:{CALLEE}"]
    rate = 8000
    before, after = said[int(0.3 * rate) : int(1.8 * rate)], said[-int(1.2 * rate) :]
    assert np.sqrt(np.mean(before**2)) > 300  # speech while unmuted
    assert np.sqrt(np.mean(after**2)) < 30  # nothing of it once muted
