"""Calls whose legs sit on different networks (issue 14): a SIP leg on a trunk (SIPp),
a simulated callee, and a second trunk, driven through the official SDK and the HTTP API
with the production gateway in real time. Everyone hears everyone (checked by
correlating what one side said with what another heard), DTMF from the simulated leg is
recognized and heard on the SIP side, and a SIP leg is added out of call (serverCallId)
to a call the app has left."""

import io
import wave

import numpy as np
import pytest
from azure.communication.callautomation import (
    CommunicationUserIdentifier,
    PhoneNumberIdentifier,
    RecognizeInputType,
)

from calls import call_verbs
from calls.models import Call, Participant, SimulatedCallee
from recordings.models import RecordingChunk
from tenants import services as tenant_services
from tenants import trunks
from tests.calls.api_support import phone, signed
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp
from tests.carrier.sip.test_mixed_networks import best_match
from tests.carrier.sip.test_sipp_calls import NO_TE, keys_in, windowed_correlation
from tests.recordings.storage import temporary_recordings_storage
from webhooks import subscriptions

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]

CALLER = "+14255550100"  # bound to the trunk whose peer talks
CALLER_2 = "+14255550101"  # bound to the trunk whose peer echoes
CALLEE = "+14255550123"  # A: a SIP leg (SIPp playing its speech sample)
ECHO = "+14255550124"  # B: a SIP leg on the second trunk (SIPp -rtp_echo)
USER = "8:acs:resource_user1"  # C: a simulated callee


def bind_trunk(tenant, number: str, port: int) -> None:
    tenant_services.add_phone_number(tenant, number, actor=None)
    trunks.save_trunk(tenant, actor=None, name=f"SIPp {number}", proxy_host="127.0.0.1",
                      proxy_port=port, phone_numbers=[number])  # fmt: skip


def connected(call_connection_id: str, count: int):
    def check() -> bool:
        live = Participant.unscoped.filter(
            call__connections__call_connection_id=call_connection_id,
            state=Participant.State.CONNECTED,
        )
        return live.count() >= count

    return check


def stored_channels(chunk: RecordingChunk) -> dict[str, np.ndarray]:
    """An unmixed recording's channels by rawId."""
    with chunk.content.open("rb") as stored, wave.open(io.BytesIO(stored.read())) as audio:
        count = audio.getnchannels()
        pcm = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    order = {c["participant"]: c["channel"] for c in chunk.metadata["channelMap"]}
    return {who: pcm[index::count].astype(float) for who, index in order.items()}


def place_group_call(sdk_client, callbacks, sip_gateway):
    client = sdk_client()
    props = client.create_call(
        [PhoneNumberIdentifier(CALLEE), CommunicationUserIdentifier(USER)], callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
    )  # fmt: skip
    sip_gateway.run_until(connected(props.call_connection_id, 2))
    call = Call.unscoped.get(connections__call_connection_id=props.call_connection_id)
    return client, props, call


def test_a_group_call_mixes_a_sip_leg_with_a_simulated_callee(
    tenant, sdk_client, callbacks, sip_gateway, tmp_path
):
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=USER, answer_after=0.3,
                                    keys=[[4.0, "7"]])  # fmt: skip
    talk = scenario("uas_pcap.xml", tmp_path)
    with (
        temporary_recordings_storage(tmp_path / "recordings"),
        sipp(tmp_path, "-sf", str(talk)) as peer,
    ):
        bind_trunk(tenant, CALLER, peer.port)
        sip_gateway.sync()
        client, props, call = place_group_call(sdk_client, callbacks, sip_gateway)
        recording = client.start_recording(
            server_call_id=call.server_call_id, recording_channel_type="unmixed",
            recording_format_type="wav",
        )  # fmt: skip
        connection = client.get_call_connection(props.call_connection_id)
        connection.start_recognizing_media(
            RecognizeInputType.DTMF, CommunicationUserIdentifier(USER),
            dtmf_max_tones_to_collect=1, initial_silence_timeout=15,
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("RecognizeCompleted"), timeout=20)
        sip_gateway.run_for(0.5)
        client.stop_recording(recording.recording_id)
        sip_gateway.run_until(lambda: RecordingChunk.unscoped.exists())
        simulated_leg = str(Participant.unscoped.get(call=call, raw_id=USER).leg_id)
        party = sip_gateway.router.bridges.party(simulated_leg)
        assert party is not None  # the simulated leg is in the SIP hub's mix
        heard = np.concatenate([f if f is not None else np.zeros(160) for f in party.heard])
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()  # the SIP leg got its BYE
        tracks = stored_channels(RecordingChunk.unscoped.get())

    [recognized] = callbacks.of_type("RecognizeCompleted")
    assert recognized["data"]["dtmfResult"]["tones"] == ["seven"]
    # The SIP leg's speech reached the simulated leg, tick for tick.
    said = tracks[f"4:{CALLEE}"]
    assert np.sqrt(np.mean(said**2)) > 300
    assert best_match(said, heard.astype(float)) > 0.9
    # The simulated key is a DTMF tone in the hub's mix, which the SIP leg hears.
    assert "7" in keys_in(tracks[USER])


def test_three_parties_on_two_trunks_and_the_simulator_with_an_out_of_call_add(
    tenant, client, sdk_client, callbacks, sip_gateway, tmp_path
):
    """A (trunk 1, talking) + C (simulated) in a group call; the app leaves; B (trunk 2,
    echoing) is added by serverCallId over HTTP. B repeats A (correlation), and C hears
    the sum of A and B."""
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=USER, answer_after=0.3)
    talk = scenario("uas_pcap.xml", tmp_path)
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with (
        temporary_recordings_storage(tmp_path / "recordings"),
        sipp(tmp_path, "-sf", str(talk), name="a") as peer_a,
        sipp(tmp_path, "-sf", str(echo), echo=True, name="b") as peer_b,
    ):
        bind_trunk(tenant, CALLER, peer_a.port)
        bind_trunk(tenant, CALLER_2, peer_b.port)
        assert len(sip_gateway.sync()) == 2
        sdk, props, call = place_group_call(sdk_client, callbacks, sip_gateway)
        sdk.get_call_connection(props.call_connection_id).hang_up(is_for_everyone=False)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))  # the app left
        body = {"participantToAdd": phone(ECHO), "callbackUri": callbacks.url,
                "sourceCallerIdNumber": {"value": CALLER_2}}  # fmt: skip
        path = f"serverCalls/{call.server_call_id}/participants:add"
        added = signed(client, tenant, "POST", path, body)
        assert added.status_code == 202, added.content
        sip_gateway.run_until(lambda: callbacks.of_type("AddParticipantSucceeded"))
        hub = sip_gateway.router.bridges.hub(str(call.pk))
        assert hub is not None
        assert not [leg for leg in hub.engine.legs if leg.startswith("link:")]
        recording = sdk.start_recording(
            server_call_id=call.server_call_id, recording_channel_type="unmixed",
            recording_format_type="wav",
        )  # fmt: skip
        sip_gateway.run_for(3.0)
        sdk.stop_recording(recording.recording_id)
        sip_gateway.run_until(lambda: RecordingChunk.unscoped.exists())
        simulated_leg = str(Participant.unscoped.get(call=call, raw_id=USER).leg_id)
        party = sip_gateway.router.bridges.party(simulated_leg)
        heard = np.concatenate([f if f is not None else np.zeros(160) for f in party.heard])
        call_verbs.terminate_call(tenant, call.pk)
        sip_gateway.run_until(lambda: not sip_gateway.router.live_legs())
        assert peer_a.wait() == 0, peer_a.output()
        assert peer_b.wait() == 0, peer_b.output()
        tracks = stored_channels(RecordingChunk.unscoped.get())

    legs = Participant.unscoped.filter(call=call)
    assert {leg.raw_id: bool(leg.trunk_id) for leg in legs} == {
        f"4:{CALLEE}": True, f"4:{ECHO}": True, USER: False,
    }  # fmt: skip
    a, b = tracks[f"4:{CALLEE}"], tracks[f"4:{ECHO}"]
    assert np.sqrt(np.mean(a**2)) > 300
    # B (the other trunk) says back what it heard. Both trunks of the gateway share one
    # mixer (no link between two clocks), so the echo is as prompt as on one trunk: look
    # up to 150 ms on, as the one-trunk three-party test does (it took up to 400 ms with
    # a link crossed twice).
    scores = windowed_correlation(a, b)
    assert len(scores) >= 2
    assert np.median(scores) > 0.9, scores
    assert best_match(a + b, heard.astype(float)) > 0.9  # C hears both SIP legs


def test_an_answered_incoming_sip_call_is_mixed_with_a_simulated_participant_added_to_it(
    tenant, sdk_client, callbacks, grid_receiver, sip_gateway, tmp_path
):
    """SIPp's uac_pcap rings our number; the app answers and adds a simulated user: the
    caller's leg joined its call at the answer, so the user hears the caller."""
    subscriptions.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[],
                                   actor=None)  # fmt: skip
    SimulatedCallee.unscoped.create(tenant=tenant, raw_id=USER, answer_after=0.3)
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    trunk = trunks.save_trunk(tenant, actor=None, name="SIPp", proxy_host="127.0.0.1",
                              proxy_port=9, phone_numbers=[CALLER])  # fmt: skip
    sip_gateway.sync()
    port = sip_gateway.fleet.carrier(trunk.pk).sip_port
    path = scenario("uac_pcap.xml", tmp_path)
    path.write_text(path.read_text().replace("sip:sipp@", f"sip:{CALLEE.lstrip('+')}@"))
    with (
        temporary_recordings_storage(tmp_path / "recordings"),
        sipp(tmp_path, "-sf", str(path), "-s", CALLER.lstrip("+"), target=f"127.0.0.1:{port}"),
    ):
        sip_gateway.run_until(lambda: grid_receiver.of_type("IncomingCall"))
        [offer] = grid_receiver.of_type("IncomingCall")
        sdk = sdk_client()
        answered = sdk.answer_call(offer["data"]["incomingCallContext"], callbacks.url)
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        connection = sdk.get_call_connection(answered.call_connection_id)
        connection.add_participant(CommunicationUserIdentifier(USER))
        sip_gateway.run_until(lambda: callbacks.of_type("AddParticipantSucceeded"))
        recording = sdk.start_recording(
            server_call_id=answered.server_call_id, recording_channel_type="unmixed",
            recording_format_type="wav",
        )  # fmt: skip
        sip_gateway.run_for(2.5)
        sdk.stop_recording(recording.recording_id)
        sip_gateway.run_until(lambda: RecordingChunk.unscoped.exists())
        call = Call.unscoped.get(server_call_id=answered.server_call_id)
        simulated_leg = str(Participant.unscoped.get(call=call, raw_id=USER).leg_id)
        party = sip_gateway.router.bridges.party(simulated_leg)
        assert party is not None
        heard = np.concatenate([f if f is not None else np.zeros(160) for f in party.heard])
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        tracks = stored_channels(RecordingChunk.unscoped.get())

    said = tracks[f"4:{CALLEE}"]
    assert np.sqrt(np.mean(said**2)) > 300
    assert best_match(said, heard.astype(float)) > 0.9
