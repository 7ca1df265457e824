"""The official SDK end to end over a SIP trunk (issue 14): the tenant's number is bound
to a trunk whose proxy is SIPp (`uas` with -rtp_echo), the gateway carries it in real
time. Create the call, play speech, send RFC 4733 digits and recognize them back through
the echo, record, hang up: the callbacks come in ACS order, and the leg keeps its SIP
trace and media quality."""

import io
import wave

import pytest
from azure.communication.callautomation import (
    DtmfTone,
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)

from calls.models import Call, Participant
from carrier.media import dtmf
from carrier.media.audio import Audio
from recordings.models import RecordingChunk
from tenants import services as tenant_services
from tenants import trunks
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp
from tests.recordings.storage import temporary_recordings_storage
from webhooks import subscriptions

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]

CALLER = "+14255550100"
CALLEE = "+14255550123"
ANN = "+14255550177"  # who calls in
TONE_RECEIVED = "ContinuousDtmfRecognitionToneReceived"
TE = {"TE": " 101", "TEMAP": "a=rtpmap:101 telephone-event/8000"}


def bind_trunk(tenant, port: int) -> None:
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    trunks.save_trunk(
        tenant, actor=None, name="SIPp", proxy_host="127.0.0.1", proxy_port=port,
        phone_numbers=[CALLER],
    )  # fmt: skip


def test_the_sdk_drives_a_call_over_a_sip_trunk(
    tenant, sdk_client, callbacks, sip_gateway, tmp_path
):
    path = scenario("uas_echo.xml", tmp_path, **TE)
    with (
        temporary_recordings_storage(tmp_path / "recordings"),
        sipp(tmp_path, "-sf", str(path), echo=True) as peer,
    ):
        bind_trunk(tenant, peer.port)
        assert len(sip_gateway.sync()) == 1
        client = sdk_client()
        props = client.create_call(
            PhoneNumberIdentifier(CALLEE), callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(CALLER),
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        connection = client.get_call_connection(props.call_connection_id)
        call = Call.unscoped.get(connections__call_connection_id=props.call_connection_id)
        recording = client.start_recording(server_call_id=call.server_call_id)

        connection.play_media_to_all(TextSource(text="Hello from the SIP trunk."))
        sip_gateway.run_until(lambda: callbacks.of_type("PlayCompleted"))
        # Media operations of a call queue (as in ACS), so a recognize would wait for the
        # tones: continuous DTMF recognition hears them come back through the echo.
        connection.start_continuous_dtmf_recognition(PhoneNumberIdentifier(CALLEE))
        sip_gateway.step()
        connection.send_dtmf_tones(
            [DtmfTone.ONE, DtmfTone.TWO, DtmfTone.THREE], PhoneNumberIdentifier(CALLEE)
        )
        sip_gateway.run_until(lambda: len(callbacks.of_type(TONE_RECEIVED)) >= 3)
        sip_gateway.run_until(lambda: callbacks.of_type("SendDtmfTonesCompleted"))
        connection.stop_continuous_dtmf_recognition(PhoneNumberIdentifier(CALLEE))
        client.stop_recording(recording.recording_id)
        sip_gateway.run_until(lambda: RecordingChunk.unscoped.exists())
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()  # it got our BYE
        leg = Participant.unscoped.get(call=call)
        sip_gateway.run_until(lambda: Participant.unscoped.get(pk=leg.pk).sip_trace)
        chunk = RecordingChunk.unscoped.get()
        with chunk.content.open("rb") as stored, wave.open(io.BytesIO(stored.read())) as audio:
            pcm = audio.readframes(audio.getnframes())

    tones = [e["data"]["tone"] for e in callbacks.of_type(TONE_RECEIVED)]
    assert tones == ["one", "two", "three"]
    types = [t for t in callbacks.types() if t not in ("ParticipantsUpdated", TONE_RECEIVED)]
    assert types[:4] == ["CallConnected", "PlayStarted", "PlayCompleted", "SendDtmfTonesCompleted"]
    assert types[-1] == "CallDisconnected"
    # The mix holds each key twice (sent, then echoed a tick later): in order, 1 2 3.
    heard = iter(key for _, key in dtmf.detect(Audio(pcm)))
    assert all(key in heard for key in "123")
    assert len(pcm) / 2 / 8000 > 2.0  # the spoken prompt and the keys
    leg.refresh_from_db()
    assert leg.trunk is not None
    lines = [entry["first_line"] for entry in leg.sip_trace]
    assert lines[0].startswith(f"INVITE sip:{CALLEE}@127.0.0.1:{peer.port}")
    assert any(line.startswith("BYE ") for line in lines)
    assert leg.media_quality["packets_received"] > 50


def test_the_sdk_answers_an_incoming_sip_call_and_hears_its_digit(
    tenant, sdk_client, callbacks, grid_receiver, sip_gateway, tmp_path
):
    """SIPp's uac_pcap rings our number: PCMA in 30 ms packets, RFC 4733 "1" after 8 s,
    then BYE. The app answers with the SDK, recognizes the digit and records the call."""
    subscriptions.subscribe_events(tenant, endpoint_url=grid_receiver.url, event_types=[],
                                   actor=None)  # fmt: skip
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    trunk = trunks.save_trunk(tenant, actor=None, name="SIPp", proxy_host="127.0.0.1",
                              proxy_port=9, phone_numbers=[CALLER])  # fmt: skip
    sip_gateway.sync()
    port = sip_gateway.fleet.carrier(trunk.pk).sip_port
    path = scenario("uac_pcap.xml", tmp_path)
    # Ann calls from her number (the built-in's From user is "sipp": anonymous).
    path.write_text(path.read_text().replace("sip:sipp@", f"sip:{ANN.lstrip('+')}@"))
    with (
        temporary_recordings_storage(tmp_path / "recordings"),
        sipp(
            tmp_path, "-sf", str(path), "-s", CALLER.lstrip("+"), target=f"127.0.0.1:{port}"
        ) as peer,
    ):
        sip_gateway.run_until(lambda: grid_receiver.of_type("IncomingCall"))
        [offer] = grid_receiver.of_type("IncomingCall")
        client = sdk_client()
        answered = client.answer_call(offer["data"]["incomingCallContext"], callbacks.url)
        sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
        client.start_recording(server_call_id=answered.server_call_id)
        connection = client.get_call_connection(answered.call_connection_id)
        connection.start_recognizing_media(
            RecognizeInputType.DTMF, PhoneNumberIdentifier(ANN),
            dtmf_max_tones_to_collect=1, initial_silence_timeout=15,
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("RecognizeCompleted"), timeout=20)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"), timeout=10)
        assert peer.wait() == 0, peer.output()
        sip_gateway.run_until(lambda: RecordingChunk.unscoped.exists())
        chunk = RecordingChunk.unscoped.get()

    tones = callbacks.of_type("RecognizeCompleted")[0]["data"]["dtmfResult"]["tones"]
    assert tones == ["one"]
    assert offer["data"]["to"]["rawId"] == f"4:{CALLER}"
    assert offer["data"]["from"]["rawId"] == f"4:{ANN}"
    # The caller stays 9 s after the answer; the recording runs from its start (a moment
    # after the answer, through the SDK) to the caller's BYE.
    recording = chunk.recording
    call = Call.unscoped.get(server_call_id=answered.server_call_id)
    expected = (call.ended_at - recording.started_at).total_seconds()
    # Under load the SDK's start can come seconds after the answer, and the gateway picks
    # the command up in steps: the file holds audio up to the BYE, never more than asked.
    assert 3.0 <= chunk.duration <= min(9.1, expected + 0.3)
    leg = Participant.unscoped.get(role="caller")
    assert leg.trunk_id == trunk.pk
