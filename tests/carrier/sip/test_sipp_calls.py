"""SipCarrier against a real SIP peer: SIPp on 127.0.0.1 (no Django database involved).

Each test starts its own SIPp with `-m 1` and a timeout, and asserts SIPp's exit code 0:
SIPp fails the call if anything we sent did not match its scenario (the scenarios check
bodies with `check_it`). The prompts are real espeak-ng speech.
"""

from __future__ import annotations

import io
import time
import wave

import numpy as np
import pytest

from carrier.interface import Collect, Dial, LegOutcome, MediaOutcome, Play, Record, SendTones
from carrier.media import dtmf, tts
from carrier.media.audio import Audio
from carrier.sip.mixer import ExternalParty
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, Events, carrier, scenario, sipp

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SIPP is None, reason=SKIP_REASON)]

CALLEE = "4:+15551230000"
TE = {"TE": " 101", "TEMAP": "a=rtpmap:101 telephone-event/8000"}
NO_TE = {"TE": "", "TEMAP": ""}


def channels(data: bytes) -> tuple[np.ndarray, ...]:
    with wave.open(io.BytesIO(data)) as wav:
        count = wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return tuple(samples[index::count] for index in range(count))


def channel(event, participant: str) -> np.ndarray:
    mapping = {c["participant"]: c["channel"] for c in event.detail["metadata"]["channelMap"]}
    return channels(event.detail["data"])[mapping[participant]]


def sound_extent(samples: np.ndarray, floor: int = 200) -> float:
    """Seconds from the first to the last sample above `floor`."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > floor)
    return (loud[-1] - loud[0] + 1) / 8000 if len(loud) else 0.0


def keys_in(samples: np.ndarray) -> list[str]:
    return [key for _at, key in dtmf.detect(Audio(samples.astype("<i2").tobytes()))]


def dial(driver, leg: str = "A", timeout: float = 10.0, call: str = "call-1") -> None:
    driver.dial(Dial(leg_id=leg, to=CALLEE, caller_id="4:+15550009999", timeout=timeout, call=call))


def test_outbound_prompt_digits_recording_and_bye(tmp_path):
    """TTS prompt to `uas -rtp_echo`; RFC 4733 keys we send come back through the echo and
    are recognized; the recording holds the prompt (to the frame) and the keys."""
    path = scenario("uas_echo.xml", tmp_path, **TE)
    prompt = tts.render("Please enter your four digit code.")
    with sipp(tmp_path, "-sf", str(path), echo=True) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        started = time.monotonic()
        dial(driver)
        events.until(LegOutcome.ANSWERED)
        setup_ms = (time.monotonic() - started) * 1000
        driver.start_recording(
            Record(recording_id="r1", call="call-1", legs=(("A", CALLEE),), channel_type="unmixed")
        )
        driver.collect(Collect(op_id="ask", leg="A", prompts=(prompt,), initial_silence=4,
                               inter_tone=2, max_tones=4))  # fmt: skip
        time.sleep(prompt.duration + 0.1)
        driver.send_tones(SendTones(op_id="keys", leg="A", keys=("1", "2", "3", "#")))
        recognized = events.until(lambda e: e.detail.get("op") == "ask")
        events.until(MediaOutcome.TONES_SENT)
        driver.stop_recording("r1")
        ready = events.until("recording_ready")
        trace = driver.trace("A")
        driver.hang_up("A")
        assert peer.wait() == 0, peer.output()

    assert setup_ms < 500
    assert recognized.kind == MediaOutcome.RECOGNIZED
    assert recognized.detail["tones"] == ["1", "2", "3", "#"]
    assert recognized.detail["reason"] == "max_tones"
    assert events.kinds() == ["answered", "recognized", "tones_sent", "recording_ready"]
    app = channel(ready, "app")
    prompt_pcm = np.frombuffer(prompt.pcm, dtype="<i2")
    first_key = dtmf.detect(Audio(app.astype("<i2").tobytes()))[0][0]
    spoken = app[: int(first_key * 8000) - 80]  # the prompt, up to the keys sent after it
    assert abs(sound_extent(spoken) - sound_extent(prompt_pcm)) <= 0.02
    assert keys_in(app) == ["1", "2", "3", "#"]  # what we sent
    assert keys_in(channel(ready, CALLEE)) == ["1", "2", "3", "#"]  # what came back
    lines = [entry["first_line"].split()[0:2] for entry in trace]
    assert ["INVITE", f"sip:+15551230000@127.0.0.1:{peer.port}"] in lines
    assert any(entry["first_line"].startswith("SIP/2.0 200") for entry in trace)


def test_inbound_uac_pcap_answer_digit_recording_and_remote_bye(tmp_path):
    """SIPp's uac_pcap: PCMA in 30 ms packets, then RFC 4733 "1", then BYE after 9 s."""
    path = scenario("uac_pcap.xml", tmp_path)
    with carrier() as driver:
        events = Events(driver)
        target = f"127.0.0.1:{driver.sip_port}"
        with sipp(tmp_path, "-sf", str(path), "-s", "15551239999", target=target) as peer:
            incoming = events.until(LegOutcome.INCOMING)
            leg = incoming.leg_id
            driver.answer(leg)
            events.until(LegOutcome.ANSWERED)
            caller = incoming.detail["from"]
            driver.start_recording(Record(recording_id="r2", call="in-1", legs=((leg, caller),)))
            driver.collect(Collect(op_id="digit", leg=leg, prompts=(), initial_silence=12))
            digit = events.until(lambda e: e.detail.get("op") == "digit", timeout=15)
            hung_up = events.until(LegOutcome.HUNG_UP, timeout=15)
            ready = events.until("recording_ready")
            assert peer.wait() == 0, peer.output()

    assert incoming.detail["to"] == "+15551239999"
    assert incoming.detail["display_name"] == "sipp"
    assert digit.kind == MediaOutcome.RECOGNIZED
    assert digit.detail["tones"] == ["1"]
    assert abs(ready.detail["duration"] - 9.0) <= 0.1
    assert ready.detail["end_reason"] == "callEnded"
    (mixed,) = channels(ready.detail["data"])
    assert np.sqrt(np.mean(mixed[: 6 * 8000].astype(float) ** 2)) > 300  # the speech is there
    quality = hung_up.detail["quality"]
    assert quality["packets_lost"] == 0
    assert quality["packets_received"] > 200
    assert quality["mos"] > 4.0
    assert hung_up.detail["sip_code"] == 200


@pytest.mark.parametrize(("password", "outcome", "code"), [
    ("secret", LegOutcome.ANSWERED, 200),
    ("wrong", LegOutcome.FAILED, 403),
])  # fmt: skip
def test_digest_auth_challenge(tmp_path, password, outcome, code):
    path = scenario("uas_auth.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(path)) as peer, carrier(peer.port, password=password) as driver:
        events = Events(driver)
        dial(driver)
        event = events.until(lambda e: e.kind in LegOutcome.ENDS | {LegOutcome.ANSWERED})
        driver.hang_up("A")
        assert peer.wait() == 0, peer.output()
    assert (event.kind, event.detail["sip_code"]) == (outcome, code)


def test_busy(tmp_path):
    path = scenario("uas_busy.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(path)) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        dial(driver)
        event = events.until(lambda e: e.kind in LegOutcome.ENDS)
        assert peer.wait() == 0, peer.output()
    assert (event.kind, event.detail["sip_code"]) == (LegOutcome.BUSY, 486)
    assert driver.live_legs() == set()


def test_custom_sip_headers_go_out_in_the_invite(tmp_path):
    path = scenario("uas_custom_headers.xml", tmp_path)
    headers = {"X-MS-Custom-Order": "A-1234", "User-To-User": "3a3b;encoding=hex"}
    with sipp(tmp_path, "-sf", str(path)) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        driver.dial(
            Dial(
                leg_id="A",
                to=CALLEE,
                caller_id="4:+15550009999",
                timeout=10,
                call="c",
                custom_context={"sipHeaders": headers, "voipHeaders": {"x": "y"}},
            )
        )
        event = events.until(lambda e: e.kind in LegOutcome.ENDS)
        assert peer.wait() == 0, peer.output()  # SIPp checked both headers
    assert event.kind == LegOutcome.BUSY


def test_no_answer_sends_cancel_at_the_ring_timeout(tmp_path):
    path = scenario("uas_ring.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(path)) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        started = time.monotonic()
        dial(driver, timeout=1.0)
        event = events.until(lambda e: e.kind in LegOutcome.ENDS)
        waited = time.monotonic() - started
        assert peer.wait() == 0, peer.output()  # it got our CANCEL and the ACK to its 487
    assert (event.kind, event.detail["sip_code"]) == (LegOutcome.NO_ANSWER, 408)
    assert 1.0 <= waited < 2.0


def test_hang_up_while_ringing_cancels_silently(tmp_path):
    path = scenario("uas_ring.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(path)) as peer, carrier(peer.port) as driver:
        dial(driver)
        time.sleep(0.4)
        driver.hang_up("A")
        assert peer.wait() == 0, peer.output()
        # Our own hang-up reports no outcome, as on the simulator; a moment later the
        # leg's record (its trace up to the 487) comes as CLOSED.
        assert [e for e in driver.poll() if e.kind != LegOutcome.CLOSED] == []
        assert driver.live_legs() == set()
        closed = Events(driver).until(LegOutcome.CLOSED, timeout=5)
    lines = [entry["first_line"] for entry in closed.detail["sip_trace"]]
    assert lines[0].startswith("INVITE ")
    assert any(line.startswith("CANCEL ") for line in lines)
    assert any(line.startswith("SIP/2.0 487") for line in lines)


def test_caller_cancels_before_answer(tmp_path):
    path = scenario("uac_cancel.xml", tmp_path)
    with carrier() as driver:
        events = Events(driver)
        target = f"127.0.0.1:{driver.sip_port}"
        with sipp(tmp_path, "-sf", str(path), "-s", "15551230000", target=target) as peer:
            incoming = events.until(LegOutcome.INCOMING)
            gone = events.until(lambda e: e.kind in LegOutcome.ENDS)
            assert peer.wait() == 0, peer.output()
    assert incoming.detail["from"] == "4:+15550001111"
    assert incoming.detail["display_name"] == "Ann Caller"
    assert (gone.kind, gone.detail["sip_code"]) == (LegOutcome.NO_ANSWER, 487)


def test_we_hold_and_unhold_with_reinvite(tmp_path):
    """re-INVITE a=sendonly (hold music meanwhile), then a=sendrecv; the callee set a
    Record-Route, so our in-dialog requests carry Route (SIPp checks both)."""
    path = scenario("uas_reinvite.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(path)) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        dial(driver)
        events.until(LegOutcome.ANSWERED)
        driver.hold("A", True, music=dtmf.tone("5", 0.5))
        time.sleep(0.5)
        driver.hold("A", False)
        time.sleep(0.5)
        driver.hang_up("A")
        assert peer.wait() == 0, peer.output()


def test_peer_holds_us_and_we_answer_recvonly(tmp_path):
    path = scenario("uac_reinvite.xml", tmp_path)
    with carrier() as driver:
        events = Events(driver)
        target = f"127.0.0.1:{driver.sip_port}"
        with sipp(tmp_path, "-sf", str(path), "-s", "15551230000", target=target) as peer:
            leg = events.until(LegOutcome.INCOMING).leg_id
            driver.answer(leg)
            events.until(LegOutcome.HUNG_UP)
            assert peer.wait() == 0, peer.output()


def test_inband_dtmf_without_telephone_event(tmp_path):
    """The callee answers PCMU only: keys go out as tones and the echo is recognized by the
    in-band detector (also as continuous DTMF)."""
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(path), echo=True) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        dial(driver)
        events.until(LegOutcome.ANSWERED)
        driver.listen_dtmf("A", True)
        driver.collect(Collect(op_id="c", leg="A", prompts=(), initial_silence=3, max_tones=3))
        driver.send_tones(SendTones(op_id="t", leg="A", keys=("5", "9", "*")))
        recognized = events.until(lambda e: e.detail.get("op") == "c")
        events.until(MediaOutcome.TONES_SENT)
        driver.hang_up("A")
        assert peer.wait() == 0, peer.output()
    assert recognized.detail["tones"] == ["5", "9", "*"]
    tones = [e.detail for e in events.seen if e.kind == MediaOutcome.TONE]
    assert [t["key"] for t in tones] == ["5", "9", "*"]
    assert {t["source"] for t in tones} == {"inband"}


def windowed_correlation(
    a: np.ndarray, b: np.ndarray, window: int = 4000, max_lag: int = 1200
) -> list[float]:
    """For each half-second window of `a` with sound in it: how well `b` repeats it, at
    the lag (0-150 ms) where it matches best (1.0 = the same waveform)."""
    scores = []
    for start in range(0, len(a) - window - max_lag, window):
        said = a[start : start + window]
        if np.sqrt(np.mean(said**2)) < 300:
            continue  # A was silent here: nothing for B to repeat
        matches = (
            np.corrcoef(said, b[start + lag : start + lag + window])[0, 1]
            for lag in range(0, max_lag, 20)
        )
        scores.append(max(float(np.nan_to_num(m)) for m in matches))
    return scores


def test_three_party_mix_audio_of_a_reaches_b(tmp_path):
    """A (talking SIPp, PCMA) + B (echoing SIPp, PCMU) + C (not SIP) in one call: B hears
    A (its echo correlates with what A said) and C hears A too."""
    talk = scenario("uas_pcap.xml", tmp_path)
    echo = scenario("uas_echo.xml", tmp_path, **NO_TE)
    party = ExternalParty()
    with (
        sipp(tmp_path, "-sf", str(talk), name="a") as peer_a,
        sipp(tmp_path, "-sf", str(echo), echo=True, name="b") as peer_b,
        carrier(peer_a.port) as driver,
    ):
        events = Events(driver)
        dial(driver, "A", call="conf")
        events.until(lambda e: e.leg_id == "A" and e.kind == LegOutcome.ANSWERED)
        driver.dial(Dial(leg_id="B", to=f"sip:echo@127.0.0.1:{peer_b.port}", caller_id="",
                         timeout=5, call="conf"))  # fmt: skip
        events.until(lambda e: e.leg_id == "B" and e.kind == LegOutcome.ANSWERED)
        driver.attach("C", party, call="conf", who="8:acs:c")
        legs = (("A", "4:a"), ("B", "4:b"), ("C", "8:acs:c"))
        driver.start_recording(
            Record(recording_id="r3", call="conf", legs=legs, channel_type="unmixed")
        )
        time.sleep(2.5)
        driver.stop_recording("r3")
        ready = events.until("recording_ready")
        driver.hang_up("A")
        driver.hang_up("B")
        assert peer_a.wait() == 0, peer_a.output()
        assert peer_b.wait() == 0, peer_b.output()
    a = channel(ready, "4:a").astype(float)
    b = channel(ready, "4:b").astype(float)
    assert np.sqrt(np.mean(a**2)) > 300
    # B says back what it heard, a few frames later. Under load the echo's delay drifts by
    # a frame now and then, so match A to B window by window, each at its own lag.
    scores = windowed_correlation(a, b)
    assert len(scores) >= 2
    assert np.median(scores) > 0.9, scores
    heard = np.concatenate([f for f in party.heard if f is not None]).astype(float)
    assert np.sqrt(np.mean(heard**2)) > 300


def test_register_with_auth_and_refresh_then_options_ping(tmp_path):
    registrar = scenario("uas_register.xml", tmp_path)
    options = scenario("uas_options.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(registrar), name="reg") as peer:
        with carrier(peer.port, register=True, register_expires=60) as driver:
            deadline = time.monotonic() + 5
            while driver.ua.registration.get("expires") != 600 and time.monotonic() < deadline:
                time.sleep(0.05)
            registration = dict(driver.ua.registration)
        assert peer.wait() == 0, peer.output()
    assert registration["state"] == "registered"
    assert registration["expires"] == 600
    with sipp(tmp_path, "-sf", str(options), name="opt") as peer, carrier(peer.port) as driver:
        status, rtt = driver.ping()
        assert peer.wait() == 0, peer.output()
    assert status == 200
    assert rtt < 100
    assert driver.status()["ping"]["status"] == 200


def test_a_restarted_gateway_byes_the_dialogs_it_cannot_carry(tmp_path):
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    with sipp(tmp_path, "-sf", str(path), echo=True) as peer:
        with carrier(peer.port) as old:
            dial(old)
            Events(old).until(LegOutcome.ANSWERED)
            snapshots = old.dialogs()
            old.ua.bye = lambda call: None  # the old process dies without a word
        with carrier(peer.port) as new:
            assert new.live_legs() == set()
            new.bye_dialogs(snapshots)
            assert peer.wait() == 0, peer.output()
    assert [s["leg_id"] for s in snapshots] == ["A"]


def test_play_to_a_sip_leg_reports_start_and_finish_on_the_media_clock(tmp_path):
    path = scenario("uas_echo.xml", tmp_path, **NO_TE)
    prompt = dtmf.tone("1", 0.5)
    with sipp(tmp_path, "-sf", str(path), echo=True) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        dial(driver)
        events.until(LegOutcome.ANSWERED)
        started = time.monotonic()
        driver.play(Play(op_id="p", legs=("A",), audios=(prompt,)))
        events.until(MediaOutcome.PLAY_FINISHED)
        took = time.monotonic() - started
        driver.hang_up("A")
        assert peer.wait() == 0, peer.output()
    assert events.kinds()[1:] == ["play_started", "play_finished"]
    assert 0.48 <= took < 0.65  # 25 frames, within one tick


def test_forked_answers_keep_the_first_and_bye_the_others(tmp_path):
    """183 with SDP, then 2xx from two forks: both ACKed, the second BYEd at once, the
    first kept until we hang up (SIPp checks the To tags)."""
    path = scenario("uas_fork.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(path)) as peer, carrier(peer.port) as driver:
        events = Events(driver)
        dial(driver)
        events.until(LegOutcome.ANSWERED)
        time.sleep(0.3)
        assert driver.live_legs() == {"A"}
        driver.hang_up("A")
        assert peer.wait() == 0, peer.output()
    assert events.kinds() == [LegOutcome.ANSWERED]


def test_register_asks_again_for_min_expires_after_423(tmp_path):
    registrar = scenario("uas_register_423.xml", tmp_path)
    with sipp(tmp_path, "-sf", str(registrar), name="reg423") as peer:
        with carrier(peer.port, register=True, register_expires=30) as driver:
            deadline = time.monotonic() + 5
            while driver.ua.registration["state"] == "off" and time.monotonic() < deadline:
                time.sleep(0.05)
            registration = dict(driver.ua.registration)
        assert peer.wait() == 0, peer.output()  # the second REGISTER asked for 120 s
    assert registration["state"] == "registered"
    assert registration["expires"] == 120
