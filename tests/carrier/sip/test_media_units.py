"""The media engine's pure pieces: G.711, RTP/RFC 4733/RTCP, SDP, the re-chunking jitter
buffer, the mixer, in-band detection and the quality figures."""

import struct
import warnings

import numpy as np
import pytest

from carrier.media import dtmf
from carrier.media.voice import synthetic_voice
from carrier.sip import g711, rtp, sdp
from carrier.sip.inband import InbandDetector
from carrier.sip.jitter import FRAME, JitterBuffer
from carrier.sip.mixer import ExternalParty, mix_minus
from carrier.sip.quality import Quality, mos

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the reference implementation, in the tests only

ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()


@pytest.mark.parametrize(
    ("pt", "encode", "decode"),
    [
        (g711.PCMU, audioop.lin2ulaw, audioop.ulaw2lin),
        (g711.PCMA, audioop.lin2alaw, audioop.alaw2lin),
    ],
)
def test_g711_is_bit_exact_for_every_sample_and_code(pt, encode, decode):
    assert g711.encode_bytes(ALL_SAMPLES, pt) == encode(ALL_SAMPLES, 2)
    assert g711.decode_bytes(bytes(range(256)), pt) == decode(bytes(range(256)), 2)


def test_g711_reference_values():
    # G.711: silence is 0xFF in µ-law and 0xD5 in A-law; full scale saturates.
    assert g711.encode(np.array([0, 32767, -32768], dtype=np.int16), g711.PCMU) == b"\xff\x80\x00"
    assert g711.encode(np.array([0, 32767, -32768], dtype=np.int16), g711.PCMA) == b"\xd5\xaa\x2a"
    assert list(g711.decode(b"\x80\x00", g711.PCMU)) == [32124, -32124]
    assert list(g711.decode(b"\xaa\x2a", g711.PCMA)) == [32256, -32256]


def test_rtp_parse_skips_csrcs_extension_and_padding():
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0x80 | 8, 7, 1234, 99)
    packet = header + b"\0" * 8 + struct.pack("!HH", 0xBEDE, 1) + b"\0" * 4 + b"abc" + b"\0\0\3"
    parsed = rtp.parse(packet)
    assert (parsed.pt, parsed.seq, parsed.timestamp, parsed.ssrc) == (8, 7, 1234, 99)
    assert parsed.marker
    assert parsed.payload == b"abc"
    assert rtp.parse(rtp.build(0, 65535, 2**32 - 1, 5, b"x")).seq == 65535
    with pytest.raises(rtp.RtpError):
        rtp.parse(b"\x40" + b"\0" * 11)


def test_rfc4733_packetisation_of_one_key():
    packets = rtp.event_packets("#", tone_ms=100)
    events = [rtp.parse_event(payload) for payload, _marker in packets]
    assert [marker for _payload, marker in packets] == [True] + [False] * 7
    assert {e.key for e in events} == {"#"}
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800, 800]
    assert [e.end for e in events] == [False] * 5 + [True] * 3
    assert rtp.parse_event(struct.pack("!BBH", 16, 0, 0)) is None  # flash is no key


def test_rtcp_report_round_trip():
    block = rtp.ReportBlock(
        ssrc=7, fraction_lost=64, cumulative_lost=3, highest_seq=70000, jitter=12
    )
    sr = rtp.build_report(1, sender=(2**40, 160, 10, 1720), block=block)
    rr = rtp.build_report(1, sender=None, block=block)
    assert rtp.is_rtcp(sr)
    assert rtp.is_rtcp(rr)
    assert rtp.parse_reports(sr + rr) == [(rtp.RTCP_SR, [block]), (rtp.RTCP_RR, [block])]


def test_sdp_offer_answer():
    offer = sdp.parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 18 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
        "a=fmtp:96 0-15\r\na=ptime:30\r\na=sendonly\r\nm=video 5000 RTP/AVP 31\r\n"
    )
    assert (offer.address, offer.port, offer.te_pt, offer.ptime) == ("10.0.0.1", 4000, 96, 30)
    assert offer.codec == 8
    assert offer.direction == "sendonly"
    assert sdp.answer_codec(offer, [0, 8]) == 0
    answer = sdp.parse(sdp.build(address="192.0.2.5", port=30000, payload_types=[0], te_pt=96,
                                 direction=sdp.ANSWER_DIRECTION[offer.direction]))  # fmt: skip
    assert (answer.port, answer.payload_types, answer.te_pt) == (30000, [0, 96], 96)
    assert answer.direction == "recvonly"
    with pytest.raises(sdp.SdpError):
        sdp.answer_codec(sdp.parse("v=0\r\nc=IN IP4 h\r\nm=audio 1 RTP/AVP 18\r\n"), [0, 8])


def test_jitter_buffer_rechunks_30ms_packets_and_fills_loss():
    """30 ms packets arrive every 30 ms, the clock takes 20 ms every 20 ms: once playing,
    every tick gets a whole frame, in order, with the lost packet as silence."""
    buffer = JitterBuffer()
    ramp = np.arange(1, 240 * 12 + 1, dtype=np.int16)
    frames = []
    for ms in range(0, 360, 10):
        if ms % 30 == 0 and ms // 30 != 4:  # packet 4 is lost
            index = ms // 30
            buffer.put(1000 + 240 * index, ramp[240 * index : 240 * (index + 1)])
        if ms % 20 == 0:
            frames.append(buffer.pop())
    started = next(i for i, f in enumerate(frames) if f is not None)
    playing = frames[started:]
    assert all(f is not None and len(f) == FRAME for f in playing)
    out = np.concatenate(playing)
    expected = ramp.copy()
    expected[960:1200] = 0
    assert np.array_equal(out, expected[: len(out)])
    assert buffer.underruns == 0
    # A packet whose time has already played is dropped.
    buffer.put(1000, ramp[:240])
    assert buffer.late == 1


def test_jitter_buffer_repairs_reordering():
    buffer = JitterBuffer()
    tone = np.arange(1, 161 * 4, dtype=np.int16)[: 160 * 4]
    for index in (0, 2, 1, 3):
        buffer.put(160 * index, tone[160 * index : 160 * (index + 1)])
    out = np.concatenate([buffer.pop() for _ in range(4)])
    assert np.array_equal(out, tone)


def test_mix_minus_each_hears_the_others_and_mute_keeps_a_voice_out():
    a, b, c = (np.full(FRAME, v, dtype=np.int16) for v in (100, 20, 3))
    heard = mix_minus({"a": a, "b": b, "c": c})
    assert (heard["a"][0], heard["b"][0], heard["c"][0]) == (23, 103, 120)
    muted = mix_minus({"a": a, "b": b, "c": c}, {"a"})
    assert (muted["a"][0], muted["b"][0], muted["c"][0]) == (23, 3, 20)
    loud = mix_minus({"x": np.full(FRAME, 30000, np.int16), "y": np.full(FRAME, 30000, np.int16),
                      "z": None})  # fmt: skip
    assert loud["z"][0] == 32767
    assert loud["x"][0] == 30000
    assert mix_minus({"x": None, "y": None}) == {"x": None, "y": None}


def test_external_party_speaks_in_frames_and_keeps_what_it_heard():
    party = ExternalParty()
    party.feed(np.ones(400, dtype=np.int16))
    frames = [party.pull() for _ in range(4)]
    assert [f is None for f in frames] == [False, False, False, True]
    assert frames[2][:80].all()
    assert not frames[2][80:].any()
    party.push(np.ones(FRAME, dtype=np.int16))
    assert len(party.heard) == 1


def _frames(audio_pcm: bytes, pt: int) -> list[np.ndarray]:
    samples = g711.decode(g711.encode_bytes(audio_pcm, pt), pt)  # through the codec
    return [samples[i : i + FRAME] for i in range(0, len(samples) - FRAME + 1, FRAME)]


@pytest.mark.parametrize("amplitude", [0.5, 0.1, 0.03])
def test_inband_detects_every_key_through_g711(amplitude):
    for pt in (g711.PCMU, g711.PCMA):
        detector, found = InbandDetector(), []
        for key in "0123456789*#ABCD":
            audio = dtmf.tone(key, 0.06, amplitude).pcm + bytes(640)
            found += [k for f in _frames(audio, pt) if (k := detector.feed(f))]
        assert "".join(found) == "0123456789*#ABCD"


def test_inband_stays_quiet_on_speech():
    detector = InbandDetector()
    voice = synthetic_voice(20.0, seed=3).pcm
    assert [k for f in _frames(voice, g711.PCMU) if (k := detector.feed(f))] == []


def test_quality_counts_loss_jitter_and_mos():
    quality = Quality()
    for seq in [65534, 65535, 0, 2, 3, 3]:  # wraps, loses 1, duplicates 3
        quality.received(seq, seq * 160, seq * 0.02 + (0.004 if seq == 2 else 0), 172)
    assert (quality.packets_received, quality.lost, quality.duplicates) == (5, 1, 1)
    assert quality.expected == 6
    assert quality.jitter_ms > 0
    assert 4.3 < mos(delay_ms=40, loss_percent=0) < 4.45
    assert mos(delay_ms=40, loss_percent=5) < 3.5 < mos(delay_ms=40, loss_percent=1)
