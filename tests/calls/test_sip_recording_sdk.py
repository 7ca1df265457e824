"""Recording from real RTP, through the official SDK over a SIP trunk (issue 14): SIPp
(`uas` with -rtp_echo) answers, the gateway carries the call in real time. An MP3
recording that the app pauses and resumes decodes to the time it was active: the paused
span is not in the file."""

import time

import miniaudio
import numpy as np
import pytest
from azure.communication.callautomation import PhoneNumberIdentifier, TextSource

from calls.models import Call
from recordings.models import Recording, RecordingChunk
from tests.calls.test_sip_trunk_sdk import CALLEE, CALLER, TE, bind_trunk
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp
from tests.recordings.storage import temporary_recordings_storage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]

ACTIVE, PAUSED = 3.0, 3.0  # seconds of each span, on the gateway's real clock
STATES = "RecordingStateChanged"


def test_a_paused_mp3_recording_of_a_sip_call_leaves_the_pause_out(
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
        # Speech all along, so every span of the file carries audio (the prompt and its
        # echo), and a pause that were ignored would show as a longer file.
        connection.play_media_to_all(
            TextSource(text="One two three four five six seven eight nine ten. " * 3)
        )
        started = client.start_recording(
            server_call_id=call.server_call_id,
            recording_format_type="mp3",
            recording_state_callback_url=callbacks.url,
        )
        # The gateway applies each command a step after the request: the spans are
        # measured between the requests, each end shifted alike.
        t_start = time.monotonic()
        sip_gateway.run_for(ACTIVE)
        client.pause_recording(started.recording_id)
        t_pause = time.monotonic()
        assert client.get_recording_properties(started.recording_id).recording_state == ("inactive")
        sip_gateway.run_for(PAUSED)
        client.resume_recording(started.recording_id)
        t_resume = time.monotonic()
        sip_gateway.run_for(ACTIVE)
        client.stop_recording(started.recording_id)
        t_stop = time.monotonic()
        sip_gateway.run_until(lambda: RecordingChunk.unscoped.exists())
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()
        chunk = RecordingChunk.unscoped.get()
        with chunk.content.open("rb") as stored:
            body = stored.read()

    assert chunk.content_type == "audio/mpeg"
    assert body[:3] == b"ID3" or body[0] == 0xFF  # an MPEG stream, not a WAV
    decoded = miniaudio.mp3_read_s16(body)  # at its own rate and channels
    assert (decoded.sample_rate, decoded.nchannels) == (8000, 1)
    seconds = decoded.num_frames / decoded.sample_rate
    active = (t_pause - t_start) + (t_stop - t_resume)
    # Recorded while active only: the paused PAUSED seconds are not in the file (a
    # recording that ignored the pause would be ~9 s long).
    assert abs(seconds - active) <= 0.5, (seconds, active)
    assert seconds < active + PAUSED / 2
    assert chunk.duration == pytest.approx(seconds, abs=0.1)
    [pause] = chunk.metadata["pauses"]
    assert pause["end"] - pause["start"] == pytest.approx(t_resume - t_pause, abs=0.5)
    assert pause["start"] == pytest.approx(t_pause - t_start, abs=0.5)
    # The file is audio of the call throughout: speech before and after the pause.
    pcm = np.asarray(decoded.samples, dtype=np.float64)
    for part in np.array_split(pcm, 2):
        assert np.sqrt(np.mean(part**2)) > 100
    states = [e["data"]["state"] for e in callbacks.of_type(STATES)]
    assert states == ["active", "inactive", "active", "inactive"]
    stored_recording = Recording.unscoped.get(recording_id=started.recording_id)
    assert stored_recording.state == Recording.State.STOPPED
