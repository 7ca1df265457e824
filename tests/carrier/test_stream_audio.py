"""The streams' numpy encoder: 8 kHz frames of many streams resampled together, seamless
across frames, exact at the input samples; AudioData messages as ACS writes them."""

import base64
import json
from datetime import UTC, datetime

import numpy as np

from carrier.media import stream_audio


def test_frame_by_frame_equals_the_whole_signal_and_keeps_the_samples():
    signal = (np.sin(np.arange(1600) / 7) * 9000).astype(np.int16)
    whole, _ = stream_audio.upsample(signal[None, :], np.array([0]), 2)
    pieces, last = [], np.array([0])
    for start in range(0, 1600, 160):
        out, last = stream_audio.upsample(signal[None, start : start + 160], last, 2)
        pieces.append(out[0])
    assert np.array_equal(np.concatenate(pieces), whole[0])
    assert np.array_equal(whole[0][1::2], signal)  # every other output sample is an input
    tripled, _ = stream_audio.upsample(signal[None, :], np.array([0]), 3)
    assert np.array_equal(tripled[0][2::3], signal)
    assert tripled.shape == (1, 4800)


def test_rows_are_independent_streams_and_silence_is_flagged():
    loud = (np.sin(np.arange(160) / 3) * 8000).astype(np.int16)
    rows = np.stack([loud, np.zeros(160, np.int16), loud // 400])
    out, last = stream_audio.upsample(rows, np.array([0, 0, 0]), 2)
    assert out.shape == (3, 320)
    assert list(stream_audio.silent(out)) == [False, True, True]
    assert last[0] == loud[-1]
    message = json.loads(
        stream_audio.audio_data(
            out[0].tobytes(),
            stream_audio.timestamp(datetime(2026, 1, 1, tzinfo=UTC)),
            False,
            "4:+14255550123",
        )
    )
    assert message == {
        "kind": "AudioData",
        "audioData": {
            "timestamp": "2026-01-01T00:00:00.000Z",
            "data": base64.b64encode(out[0].tobytes()).decode(),
            "silent": False,
            "participantRawID": "4:+14255550123",
        },
    }
