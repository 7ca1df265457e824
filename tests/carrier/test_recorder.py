import io
import json
import wave
from array import array

import miniaudio
import pytest

from carrier.media.audio import RATE, Audio, samples, silence
from carrier.media.dtmf import detect, tone
from carrier.media.recorder import (
    RecordingState,
    RecordingStateError,
    RecordingTape,
    UnsupportedFormat,
    render,
)
from carrier.media.voice import synthetic_voice

CALLEE = "4:+14255550123"
AGENT = "8:acs:agent"


def at(seconds: float) -> int:
    """A call time for the tape: whole samples."""
    return samples(seconds)


def _call(*, stop: float = 6.0) -> RecordingTape:
    """A recorded call: a prompt, a 1 s pause from 1.0 to 2.0 s, the callee pressing 5 at
    3.0 s and speaking at 4.0 s."""
    tape = RecordingTape()
    tape.start(at(0.0))
    tape.add("app", at(0.0), synthetic_voice(0.9, seed=1))
    tape.pause(at(1.0))
    tape.resume(at(2.0))
    tape.add(CALLEE, at(3.0), tone("5", 0.2))
    tape.add(CALLEE, at(4.0), synthetic_voice(1.5, seed=2))
    tape.stop(at(stop))
    return tape


def _open_wav(data: bytes) -> tuple[wave._wave_params, list[Audio]]:
    """The file's parameters as `wave` reads them, and its channels split apart."""
    with wave.open(io.BytesIO(data)) as reader:
        params = reader.getparams()
        samples = array("h", reader.readframes(params.nframes))
    count = params.nchannels
    return params, [Audio(samples[i::count].tobytes()) for i in range(count)]


def _decode_mp3(data: bytes, channels: int) -> list[Audio]:
    decoded = miniaudio.decode(data, nchannels=channels, sample_rate=RATE)
    return [Audio(decoded.samples[i::channels].tobytes()) for i in range(channels)]


def _is_silent(audio: Audio) -> bool:
    return not any(audio.pcm)


def _keys(audio: Audio) -> list[str]:
    return [key for _at, key in detect(audio)]


# --- WAV ------------------------------------------------------------------------------------


def test_a_mixed_wav_opens_with_the_wave_module_as_8_khz_16_bit_mono():
    rendered = render(_call(), channel_type="mixed", format="wav")

    params, _channels = _open_wav(rendered.data)

    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, RATE)
    assert rendered.content_type == "audio/wav"
    assert rendered.channels == 1


def test_the_duration_is_the_recorded_time_less_the_paused_span():
    rendered = render(_call(stop=6.0), format="wav")

    params, _channels = _open_wav(rendered.data)

    assert params.nframes / RATE == pytest.approx(6.0 - 1.0, abs=0.05)
    assert rendered.duration == pytest.approx(5.0, abs=0.05)
    assert rendered.metadata["recordedSeconds"] == pytest.approx(5.0, abs=0.05)


def test_a_key_pressed_after_a_pause_is_at_its_recording_offset_in_the_mixed_file():
    rendered = render(_call(), channel_type="mixed", format="wav")

    _params, [mixed] = _open_wav(rendered.data)

    [(offset, key)] = detect(mixed)
    assert key == "5"
    # Pressed at 3.0 s on the call's clock; the 1 s pause before it is cut out.
    assert offset == pytest.approx(2.0, abs=0.05)


def test_an_unmixed_file_carries_the_key_only_on_the_callees_channel():
    rendered = render(_call(), channel_type="unmixed", channel_order=["app", CALLEE])

    params, [app, callee] = _open_wav(rendered.data)

    assert params.nchannels == rendered.channels == 2
    assert _keys(app) == []
    [(offset, key)] = detect(callee)
    assert key == "5"
    assert offset == pytest.approx(2.0, abs=0.05)


def test_unmixed_channels_follow_the_channel_order_then_who_was_heard_first():
    tape = RecordingTape()
    tape.start(at(0.0))
    tape.add("app", at(0.5), tone("1", 0.2))
    tape.add(CALLEE, at(1.0), tone("2", 0.2))
    tape.add(AGENT, at(1.5), tone("3", 0.2))
    tape.stop(at(2.0))

    rendered = render(tape, channel_type="unmixed", channel_order=[AGENT])

    _params, channels = _open_wav(rendered.data)
    assert [_keys(channel) for channel in channels] == [["3"], ["1"], ["2"]]
    assert rendered.metadata["participants"] == [AGENT, "app", CALLEE]


def test_a_listed_participant_never_heard_gets_a_silent_channel():
    rendered = render(_call(), channel_type="unmixed", channel_order=[CALLEE, AGENT, "app"])

    _params, [callee, agent, app] = _open_wav(rendered.data)

    assert _is_silent(agent)
    assert not _is_silent(callee)
    assert not _is_silent(app)
    assert len(agent.pcm) == len(callee.pcm)


def test_audio_before_start_and_after_stop_is_left_out():
    tape = RecordingTape()
    tape.add(CALLEE, at(0.5), tone("1", 0.2))  # before the recording starts
    tape.add(CALLEE, at(1.8), tone("2", 0.4))  # straddles the start: its last 0.2 s count
    tape.start(at(2.0))
    tape.add(CALLEE, at(3.0), tone("3", 0.2))
    tape.add(CALLEE, at(3.9), tone("4", 0.5))  # straddles the stop: its first 0.1 s count
    tape.add(CALLEE, at(4.5), tone("5", 0.2))  # after the stop
    tape.stop(at(4.0))

    rendered = render(tape)

    _params, [mixed] = _open_wav(rendered.data)
    assert mixed.duration == pytest.approx(2.0)
    keys = [(round(at, 1), key) for at, key in detect(mixed)]
    assert keys == [(0.0, "2"), (1.0, "3"), (1.9, "4")]


def test_mixing_sums_the_tracks_then_clips_once_instead_of_wrapping():
    def constant(value: int, samples: int) -> Audio:
        return Audio(array("h", [value] * samples).tobytes())

    tape = RecordingTape()
    tape.start(at(0.0))
    tape.add("app", at(0.0), constant(30000, 800))
    tape.add(CALLEE, at(0.0), constant(30000, 800))
    tape.add(AGENT, at(0.0), constant(-30000, 400))
    tape.stop(at(0.1))

    _params, [mixed] = _open_wav(render(tape).data)

    samples = array("h", mixed.pcm)
    # In range overall, so no clipping, whatever order the tracks are added in.
    assert set(samples[:400]) == {30000}
    # 60000 does not fit in 16 bits: it clips to the top instead of wrapping negative.
    assert set(samples[400:]) == {32767}


def test_a_key_listed_twice_in_the_channel_order_is_rejected():
    with pytest.raises(ValueError, match="twice"):
        render(_call(), channel_type="unmixed", channel_order=[CALLEE, CALLEE])


# --- MP3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel_type", "channels"), [("mixed", 1), ("unmixed", 2)], ids=["mono", "stereo"]
)
def test_an_mp3_decodes_to_the_recorded_duration_with_sound(channel_type, channels):
    rendered = render(_call(), channel_type=channel_type, format="mp3")

    decoded = _decode_mp3(rendered.data, channels)

    assert rendered.content_type == "audio/mpeg"
    assert rendered.channels == channels
    assert decoded[0].duration == pytest.approx(rendered.duration, abs=0.1)
    assert rendered.duration == pytest.approx(5.0, abs=0.05)
    assert all(not _is_silent(channel) for channel in decoded)


def test_the_key_is_at_the_same_offset_in_the_decoded_mp3():
    rendered = render(_call(), channel_type="unmixed", channel_order=["app"], format="mp3")

    app, callee = _decode_mp3(rendered.data, 2)

    [(offset, key)] = detect(callee)
    assert key == "5"
    assert offset == pytest.approx(2.0, abs=0.05)
    assert _keys(app) == []


def test_an_mp3_cannot_hold_more_than_two_unmixed_channels():
    with pytest.raises(UnsupportedFormat, match="at most 2 channels"):
        render(_call(), channel_type="unmixed", channel_order=[AGENT], format="mp3")


@pytest.mark.parametrize("format", ["mp4", "ogg", ""])
def test_formats_other_than_wav_and_mp3_are_unsupported(format):
    with pytest.raises(UnsupportedFormat):
        render(_call(), format=format)


def test_an_unknown_channel_type_is_unsupported():
    with pytest.raises(UnsupportedFormat):
        render(_call(), channel_type="surround")


# --- recording states -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "marks",
    [
        ["pause"],
        ["resume"],
        ["stop"],
        ["start", "start"],
        ["start", "resume"],
        ["start", "pause", "pause"],
        ["start", "stop", "start"],
        ["start", "stop", "pause"],
        ["start", "pause", "stop", "resume"],
        ["start", "stop", "stop"],
    ],
    ids="-".join,
)
def test_invalid_state_sequences_raise(marks):
    tape = RecordingTape()
    *valid, invalid = marks
    for second, mark in enumerate(valid):
        getattr(tape, mark)(at(second))
    state = tape.state

    with pytest.raises(RecordingStateError):
        getattr(tape, invalid)(at(10.0))

    assert tape.state == state


def test_a_mark_cannot_go_back_in_time():
    tape = RecordingTape()
    tape.start(at(2.0))

    with pytest.raises(RecordingStateError, match="before the previous mark"):
        tape.pause(at(1.0))


def test_no_audio_is_taken_after_stop():
    tape = _call()

    with pytest.raises(RecordingStateError):
        tape.add(CALLEE, at(7.0), tone("1"))


def test_only_a_stopped_recording_renders():
    tape = RecordingTape()
    tape.start(at(0.0))
    tape.add(CALLEE, at(0.0), tone("1"))

    with pytest.raises(RecordingStateError, match="stopped"):
        render(tape)


def test_a_time_must_be_a_non_negative_number_of_samples():
    tape = RecordingTape()

    with pytest.raises(ValueError, match="non-negative"):
        tape.start(-1)
    with pytest.raises(ValueError, match="non-negative"):
        tape.add(CALLEE, -8000, tone("1"))


@pytest.mark.parametrize("seconds", [1.5, float("nan"), float("inf")])
def test_a_time_in_seconds_is_refused(seconds):
    tape = RecordingTape()

    with pytest.raises(TypeError):
        tape.start(seconds)
    with pytest.raises(TypeError):
        tape.add(CALLEE, seconds, tone("1"))


def test_pause_on_start_records_nothing_until_resume():
    tape = RecordingTape()
    tape.start(at(0.0), paused=True)
    tape.add(CALLEE, at(0.5), tone("1", 0.2))
    tape.add("app", at(0.0), synthetic_voice(1.5))
    tape.resume(at(2.0))
    tape.add(CALLEE, at(2.5), tone("9", 0.2))
    tape.stop(at(3.0))

    rendered = render(tape)

    _params, [mixed] = _open_wav(rendered.data)
    assert tape.state == RecordingState.STOPPED
    assert rendered.duration == pytest.approx(1.0)
    assert _is_silent(mixed.slice(at(0.0), at(0.5)))
    [(offset, key)] = detect(mixed)
    assert key == "9"
    assert offset == pytest.approx(0.5, abs=0.05)
    assert rendered.metadata["pauses"][0]["callStart"] == 0.0
    assert rendered.metadata["pauses"][0]["callEnd"] == 2.0


# --- metadata -------------------------------------------------------------------------------


def test_metadata_lists_the_pauses_and_the_channel_map():
    tape = RecordingTape()
    tape.add(CALLEE, at(10.0), silence(1.0))
    tape.start(at(10.0))
    tape.pause(at(11.0))
    tape.resume(at(12.5))
    tape.add("app", at(13.0), tone("1"))
    tape.pause(at(14.0))
    tape.stop(at(15.0))  # stopped while paused: that pause runs to the stop

    metadata = render(tape, channel_type="unmixed", channel_order=["app"]).metadata

    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["pauses"] == [
        {"start": 1.0, "end": 2.5, "callStart": 11.0, "callEnd": 12.5, "offset": 1.0},
        {"start": 4.0, "end": 5.0, "callStart": 14.0, "callEnd": 15.0, "offset": 2.5},
    ]
    assert metadata["channelMap"] == [
        {"channel": 0, "participant": "app"},
        {"channel": 1, "participant": CALLEE},
    ]
    assert metadata["format"] == "wav"
    assert metadata["sampleRate"] == RATE
    assert metadata["channels"] == 2
    assert metadata["recordedSeconds"] == 2.5
    assert (metadata["recordingStart"], metadata["recordingStop"]) == (10.0, 15.0)


def test_mixed_metadata_maps_every_participant_to_the_one_channel():
    metadata = render(_call(), channel_type="mixed", format="mp3").metadata

    assert metadata["channelMap"] == [
        {"channel": 0, "participant": "app"},
        {"channel": 0, "participant": CALLEE},
    ]
    assert metadata["format"] == "mp3"
    assert metadata["sampleRate"] == RATE


# --- synthetic voice ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_synthetic_voice_is_not_taken_for_dtmf(seed):
    voice = synthetic_voice(4.0, seed=seed)

    assert detect(voice) == []


def test_the_synthetic_voice_is_audible_repeatable_and_varies_by_seed():
    voice = synthetic_voice(2.0, seed=5)

    assert voice.duration == pytest.approx(2.0)
    assert not _is_silent(voice)
    assert synthetic_voice(2.0, seed=5) == voice
    assert synthetic_voice(2.0, seed=6) != voice
