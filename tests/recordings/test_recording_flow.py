"""Recording end to end, on the simulated carrier's virtual clock: the SDK starts, pauses,
resumes and stops; the file is real audio of what the call carried."""

import io
import wave
from array import array

import miniaudio
import pytest
from azure.communication.callautomation import (
    ChannelAffinity,
    CommunicationUserIdentifier,
    PhoneNumberIdentifier,
    TextSource,
)
from azure.core.rest import HttpRequest

from calls.models import SimulatedCallee
from carrier.media import dtmf
from carrier.media.audio import Audio, samples
from recordings.models import Recording, RecordingChunk
from tenants import services as tenant_services
from tests.calls.api_support import phone, signed
from tests.recordings.conftest import AGENT, CUSTOMER, EXPERT, OUR_NUMBER
from webhooks import subscriptions

pytestmark = pytest.mark.django_db(transaction=True)

CALLEE = "+14255550123"


def download(client, url: str, **headers: str):
    """Fetch a *Location URL through the SDK's own signed pipeline (download_recording
    itself only accepts Microsoft hosts; see README)."""
    response = client._client.send_request(HttpRequest("GET", url, headers=headers), stream=True)
    response.read()
    return response


def file_event(grid_receiver) -> dict:
    [event] = [e for e in grid_receiver.events if e["eventType"].endswith("FileStatusUpdated")]
    return event["data"]


def channel_energy(frames: bytes, channels: int) -> list[float]:
    samples = array("h", frames)
    return [
        sum(abs(s) for s in samples[c::channels]) / max(len(samples) // channels, 1)
        for c in range(channels)
    ]


def test_the_support_call_is_recorded_with_an_expert_brought_in_out_of_call(
    client, tenant, p2p, sdk_client, callbacks, grid_receiver, gateway
):
    # The agent asks the service to bring in an expert, without the app joining.
    added = signed(
        client,
        tenant,
        "POST",
        f"serverCalls/{p2p.server_call_id}/participants:add",
        {
            "participantToAdd": phone(EXPERT),
            "sourceCallerIdNumber": {"value": OUR_NUMBER},
            "callbackUri": callbacks.url,
        },
    )
    gateway.advance(2)
    assert added.status_code == 202
    roster = callbacks.of_type("ParticipantsUpdated")[-1]["data"]["participants"]
    assert {p["identifier"]["rawId"] for p in roster} == {CUSTOMER, AGENT, f"4:{EXPERT}"}

    sdk = sdk_client()
    order = [
        ChannelAffinity(CommunicationUserIdentifier(AGENT), 0),
        ChannelAffinity(PhoneNumberIdentifier(EXPERT), 1),
        ChannelAffinity(CommunicationUserIdentifier(CUSTOMER), 2),
    ]
    started = sdk.start_recording(
        server_call_id=p2p.server_call_id,
        recording_state_callback_url=callbacks.url,
        recording_channel_type="unmixed",
        recording_format_type="wav",
        channel_affinity=order,
    )
    assert started.recording_state == "active"
    gateway.advance(6)
    sdk.pause_recording(started.recording_id)
    gateway.advance(2)
    assert sdk.get_recording_properties(started.recording_id).recording_state == "inactive"
    sdk.resume_recording(started.recording_id)
    gateway.advance(3)
    sdk.stop_recording(started.recording_id)
    gateway.advance(0.5)

    states = [e["data"]["state"] for e in callbacks.of_type("RecordingStateChanged")]
    assert states == ["active", "inactive", "active", "inactive"]
    subject = callbacks.of_type("RecordingStateChanged")[0]["subject"]
    assert subject == f"calling/recordings/{p2p.server_call_id}/recordingId/{started.recording_id}"

    data = file_event(grid_receiver)
    [chunk] = data["recordingStorageInfo"]["recordingChunks"]
    assert data["recordingDurationMs"] == 9000
    response = download(sdk, chunk["contentLocation"])
    assert response.status_code == 200
    with wave.open(io.BytesIO(response.read())) as audio:
        # Recorded 6 + 3 s (the 2 s pause is left out), one channel per participant.
        assert abs(audio.getnframes() / audio.getframerate() - 9.0) <= 0.05
        assert audio.getnchannels() == 3
        frames = audio.readframes(audio.getnframes())
    assert all(energy > 50 for energy in channel_energy(frames, 3))  # everyone was heard

    metadata = download(sdk, chunk["metadataLocation"]).json()
    assert [c["participant"] for c in metadata["channelMap"]] == [AGENT, f"4:{EXPERT}", CUSTOMER]
    assert metadata["pauses"][0]["start"] == pytest.approx(6.0)
    assert metadata["pauses"][0]["end"] == pytest.approx(8.0)
    assert metadata["sampleRate"] == 8000


@pytest.fixture
def app_call(tenant, sdk_client, callbacks, gateway, grid_receiver):
    """Place a 1:1 app call to CALLEE with the SDK (event webhook subscribed); returns the
    client, the call's properties and its connection, once connected."""
    subscriptions.subscribe_events(
        tenant, endpoint_url=grid_receiver.url, event_types=[], actor=None
    )
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)

    def place():
        sdk = sdk_client()
        props = sdk.create_call(
            PhoneNumberIdentifier(CALLEE),
            callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(OUR_NUMBER),
        )
        gateway.advance(2)
        return sdk, props, sdk.get_call_connection(props.call_connection_id)

    return place


def test_a_key_the_callee_presses_is_in_the_recording_where_it_was_pressed(
    tenant, app_call, callbacks, gateway, grid_receiver
):
    SimulatedCallee.unscoped.create(
        tenant=tenant, raw_id=f"4:{CALLEE}", keys=[[2.0, "1", "prompt"]]
    )
    sdk, props, connection = app_call()

    recording = sdk.start_recording(call_connection_id=props.call_connection_id)
    connection.start_recognizing_media(
        input_type="dtmf",
        target_participant=PhoneNumberIdentifier(CALLEE),
        play_prompt=TextSource(text="Press one to confirm your appointment, two to cancel."),
        interrupt_prompt=True,
        dtmf_max_tones_to_collect=1,
    )
    gateway.advance(4)
    sdk.stop_recording(recording.recording_id)
    gateway.advance(0.5)

    assert callbacks.of_type("RecognizeCompleted")
    # Started through the connection with no state callback: events go to the connection.
    assert [e["data"]["state"] for e in callbacks.of_type("RecordingStateChanged")] == [
        "active",
        "inactive",
    ]
    [chunk] = file_event(grid_receiver)["recordingStorageInfo"]["recordingChunks"]
    with wave.open(io.BytesIO(download(sdk, chunk["contentLocation"]).read())) as audio:
        assert audio.getnchannels() == 1
        assert abs(audio.getnframes() / 8000 - 4.0) <= 0.05
        heard = Audio(audio.readframes(audio.getnframes()))
    keys = dtmf.detect(heard)
    assert [key for _at, key in keys] == ["1"]
    assert keys[0][0] == pytest.approx(2.0, abs=0.05)
    # The prompt was really spoken (barge-in cut it at the key).
    assert channel_energy(heard.slice(samples(0.2), samples(1.8)).pcm, 1)[0] > 100


def test_an_mp3_recording_decodes_to_the_recorded_duration(
    app_call, callbacks, gateway, grid_receiver
):
    sdk, props, connection = app_call()
    recording = sdk.start_recording(
        call_connection_id=props.call_connection_id,
        recording_format_type="mp3",
        recording_state_callback_url=callbacks.url,
    )
    connection.play_media(TextSource(text="Your appointment is on Tuesday at two thirty."))
    gateway.advance(5.5)
    connection.hang_up(is_for_everyone=True)  # the call ending stops the recording
    gateway.advance(0.5)

    stored = Recording.unscoped.get(recording_id=recording.recording_id)
    assert stored.state == Recording.State.STOPPED
    assert stored.end_reason == "callEnded"
    assert file_event(grid_receiver)["sessionEndReason"] == "CallEnded"
    [chunk] = file_event(grid_receiver)["recordingStorageInfo"]["recordingChunks"]
    body = download(sdk, chunk["contentLocation"]).read()
    decoded = miniaudio.decode(body, output_format=miniaudio.SampleFormat.SIGNED16)
    assert abs(decoded.num_frames / decoded.sample_rate - 5.5) <= 0.1
    assert RecordingChunk.unscoped.get().sha256


def test_a_range_request_gets_just_those_bytes(tenant, p2p, sdk_client, gateway, grid_receiver):
    sdk = sdk_client()
    recording = sdk.start_recording(server_call_id=p2p.server_call_id)
    gateway.advance(1)
    sdk.stop_recording(recording.recording_id)
    gateway.advance(0.1)
    [chunk] = file_event(grid_receiver)["recordingStorageInfo"]["recordingChunks"]
    whole = download(sdk, chunk["contentLocation"]).read()

    part = download(sdk, chunk["contentLocation"], Range="bytes=4-11")

    assert part.status_code == 206
    assert part.read() == whole[4:12]
    assert part.headers["Content-Range"] == f"bytes 4-11/{len(whole)}"
    beyond = download(sdk, chunk["contentLocation"], Range=f"bytes={len(whole) + 5}-")
    assert beyond.status_code == 416


def test_the_delete_location_deletes_the_recording_and_its_file(
    tenant, p2p, sdk_client, gateway, grid_receiver, recordings_dir
):
    sdk = sdk_client()
    recording = sdk.start_recording(server_call_id=p2p.server_call_id)
    gateway.advance(1)
    sdk.stop_recording(recording.recording_id)
    gateway.advance(0.1)
    [chunk] = file_event(grid_receiver)["recordingStorageInfo"]["recordingChunks"]
    assert list(recordings_dir.rglob("*.wav"))

    deleted = sdk._client.send_request(HttpRequest("DELETE", chunk["deleteLocation"]))

    assert deleted.status_code == 200
    assert not Recording.unscoped.exists()
    assert not list(recordings_dir.rglob("*.wav"))
    assert download(sdk, chunk["contentLocation"]).status_code == 404
