import io
import math
import shutil
import struct
import time
import wave
from array import array

import pytest

from carrier.media import tts
from carrier.media.audio import RATE, Audio, AudioFormatError, concat, mix, silence
from carrier.media.dtmf import FREQUENCIES, KEYS, TONE_NAMES, detect, tone

SAMPLE = 1 / RATE
PROMPT = "Hello, your appointment is tomorrow at 2 PM"


def _wav(frames: bytes, *, rate: int, width: int, channels: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def _sine(frequency: float, seconds: float, *, rate: int = RATE, amplitude: int = 8000) -> array:
    step = 2 * math.pi * frequency / rate
    return array("h", (round(amplitude * math.sin(step * n)) for n in range(round(seconds * rate))))


def _voice_like(seconds: float, *, amplitude: int = 1200) -> Audio:
    """A quiet stand-in for speech: a 200-400 Hz harmonic cluster with a syllabic rhythm."""
    samples = array("h")
    for n in range(round(seconds * RATE)):
        t = n / RATE
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 4 * t)
        pitch = sum(math.sin(2 * math.pi * f * t) for f in (200, 260, 330, 400)) / 4
        samples.append(round(amplitude * envelope * pitch))
    return Audio(samples.tobytes())


@pytest.fixture
def media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"
    return settings.MEDIA_CACHE_DIR


# --- audio ---------------------------------------------------------------------------------


def test_a_canonical_wav_round_trips_unchanged():
    audio = Audio(_sine(440, 0.25).tobytes())

    again = Audio.from_wav(audio.to_wav())

    assert again == audio
    assert again.duration == pytest.approx(0.25)


def test_from_wav_downmixes_and_resamples_16_khz_stereo():
    left, right = _sine(440, 1.5, rate=16000), _sine(440, 1.5, rate=16000, amplitude=4000)
    stereo = array("h", (s for pair in zip(left, right, strict=True) for s in pair))

    audio = Audio.from_wav(_wav(stereo.tobytes(), rate=16000, width=2, channels=2))

    assert audio.duration == pytest.approx(1.5, abs=SAMPLE)
    peak = max(abs(s) for s in array("h", audio.pcm))
    assert 5000 < peak <= 6100  # the average of the two channels, not either one


def test_from_wav_converts_unsigned_8_bit():
    frames = bytes(128 + round(100 * math.sin(2 * math.pi * 440 * n / 8000)) for n in range(4000))

    audio = Audio.from_wav(_wav(frames, rate=8000, width=1, channels=1))

    assert audio.duration == pytest.approx(0.5, abs=SAMPLE)
    samples = array("h", audio.pcm)
    assert abs(sum(samples) / len(samples)) < 200  # centred on zero, not on +128
    assert max(samples) > 20000


@pytest.mark.parametrize("rate", [11025, 22050, 44100, 48000])
def test_from_wav_resamples_common_rates_to_8_khz(rate):
    audio = Audio.from_wav(
        _wav(_sine(440, 2.0, rate=rate).tobytes(), rate=rate, width=2, channels=1)
    )

    assert audio.duration == pytest.approx(2.0, abs=SAMPLE)


def test_from_wav_reads_to_the_end_when_a_streaming_writer_left_the_size_open():
    wav = bytearray(Audio(_sine(440, 0.5).tobytes()).to_wav())
    struct.pack_into("<I", wav, 40, 0x7FFFF000)  # what espeak-ng --stdout writes

    assert Audio.from_wav(bytes(wav)).duration == pytest.approx(0.5)


def _compressed_wav() -> bytes:
    wav = bytearray(_wav(bytes(800), rate=8000, width=1, channels=1))
    struct.pack_into("<H", wav, 20, 0x0006)  # A-law
    return bytes(wav)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64" * 20, id="mp3"),
        pytest.param(b"hello", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(_wav(bytes(1600), rate=8000, width=2, channels=1)[:30], id="truncated-header"),
        pytest.param(_wav(bytes(1600), rate=8000, width=2, channels=1)[:900], id="truncated-data"),
        pytest.param(_compressed_wav(), id="compressed"),
    ],
)
def test_from_wav_rejects_what_is_not_a_pcm_wav(data):
    with pytest.raises(AudioFormatError):
        Audio.from_wav(data)


def test_concat_mix_and_slice_have_the_expected_durations():
    a, b = silence(1.0), Audio(_sine(300, 0.4).tobytes())

    assert concat(a, b, a).duration == pytest.approx(2.4)
    assert mix(a, b).duration == pytest.approx(1.0)
    assert mix(b, a).duration == pytest.approx(1.0)
    assert concat(a, b).slice(7200, 9600).samples == 2400
    assert b.slice(2400).samples == 800
    assert b.slice(2400, 72000).samples == 800


def test_slice_positions_are_whole_samples():
    with pytest.raises(TypeError):
        silence(1.0).slice(0.5)


def test_a_loop_repeats_the_audio_from_any_position():
    ramp = Audio(array("h", range(5)).tobytes())

    assert array("h", ramp.looped(3, 9).pcm).tolist() == [3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert array("h", ramp.looped(12, 3).pcm).tolist() == [2, 3, 4]
    assert ramp.looped(0, 0).samples == 0
    assert Audio(b"").looped(0, 4).pcm == bytes(8)


def test_mix_adds_samples_and_clips_instead_of_wrapping():
    loud = Audio(array("h", [30000, -30000, 100]).tobytes())

    mixed = array("h", mix(loud, loud).pcm)

    assert list(mixed) == [32767, -32768, 200]


# --- DTMF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(FREQUENCIES))
def test_each_key_is_detected_from_its_tone(key):
    audio = concat(silence(0.2), tone(key), silence(0.2))

    assert [k for _, k in detect(audio)] == [key]


def test_a_key_sequence_is_found_at_its_offsets_over_a_quiet_voice():
    presses = [(0.5, "1"), (1.2, "5"), (2.0, "#")]
    keys = silence(3.0)
    for at, key in presses:
        keys = mix(keys, concat(silence(at), tone(key)))

    found = detect(mix(keys, _voice_like(3.0)))

    assert [key for _, key in found] == [key for _, key in presses]
    for (start, _), (at, _) in zip(found, presses, strict=True):
        assert start == pytest.approx(at, abs=0.05)


def test_a_held_key_counts_once_and_a_repeated_key_twice():
    audio = concat(tone("7", seconds=0.5), silence(0.1), tone("7"), silence(0.1))

    assert [key for _, key in detect(audio)] == ["7", "7"]


def test_a_voice_alone_is_not_taken_for_keys():
    assert detect(mix(_voice_like(2.0, amplitude=12000), silence(2.0))) == []


def test_tone_names_map_both_ways():
    assert TONE_NAMES["#"] == "pound"
    assert TONE_NAMES["*"] == "asterisk"
    assert KEYS["zero"] == "0"
    assert KEYS["d"] == "D"
    assert len(TONE_NAMES) == len(KEYS) == 16
    assert all(KEYS[name] == key for key, name in TONE_NAMES.items())


# --- text-to-speech ------------------------------------------------------------------------


def test_tts_renders_speech_of_a_plausible_length(media_cache):
    audio = tts.render(PROMPT)

    assert 1.0 < audio.duration < 6.0
    assert any(audio.pcm)
    assert detect(audio) == []  # speech must not trip the DTMF detector


@pytest.mark.parametrize("locale", ["en-US", "en-GB", "fr-FR"])
def test_female_and_male_voices_sound_different(media_cache, locale):
    female = tts.render(PROMPT, locale=locale, voice_kind="female")
    male = tts.render(PROMPT, locale=locale, voice_kind="male")
    neutral = tts.render(PROMPT, locale=locale)

    assert len({female.pcm, male.pcm, neutral.pcm}) == 3


def test_a_cached_rendering_is_identical_and_faster(media_cache):
    started = time.perf_counter()
    first = tts.render(PROMPT, locale="en-GB")
    cold = time.perf_counter() - started
    started = time.perf_counter()
    second = tts.render(PROMPT, locale="en-GB")
    cached = time.perf_counter() - started

    assert second.pcm == first.pcm
    assert cached < cold
    assert len(list(media_cache.glob("tts-*.wav"))) == 1


@pytest.mark.parametrize("text", ["", "   \n"])
def test_tts_rejects_empty_text(media_cache, text):
    with pytest.raises(tts.TtsError):
        tts.render(text)


def test_tts_rejects_text_over_the_limit(media_cache):
    with pytest.raises(tts.TtsError):
        tts.render("a" * (tts.MAX_TEXT + 1))


def test_an_unknown_locale_falls_back_without_error(media_cache):
    assert tts.resolve_voice("xx-YY") == "en-us"
    assert tts.render("Good morning", locale="xx-YY").duration > 0.3


@pytest.mark.parametrize(
    ("locale", "kind", "name", "voice"),
    [
        ("en-US", None, None, "en-us"),
        ("en-GB", "female", None, "en-gb+f3"),
        ("fr-FR", "male", None, "fr-fr+m3"),
        ("de-DE", None, None, "de"),
        ("es-ES", None, "en-US-JennyNeural", "es"),
        ("es-ES", "female", "en-gb", "en-gb+f3"),
        ("es-ES", "female", "en-gb+m2", "en-gb+m2"),
    ],
)
def test_locale_voice_kind_and_name_pick_the_espeak_voice(locale, kind, name, voice):
    assert tts.resolve_voice(locale, kind, name) == voice


def test_a_missing_espeak_ng_says_how_to_install_it(media_cache, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    with pytest.raises(tts.TtsError, match="apt-get install espeak-ng"):
        tts.render("Nobody can say this without espeak")
