"""SSML play sources end to end: the official SDK's SsmlSource, rendered by espeak-ng's
SSML mode, played for as long as the rendering lasts; refused elements are named."""

import pytest
from azure.communication.callautomation import (
    PhoneNumberIdentifier,
    RecognizeInputType,
    SsmlSource,
)
from azure.core.exceptions import HttpResponseError

from carrier.media import ssml, tts
from tenants import services as tenant_services
from tests.calls.test_media_flows import CALLEE, CALLER, media_types
from usage.services import spoken_characters

pytestmark = pytest.mark.django_db(transaction=True)

SPEAK = (
    '<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">{}</speak>'
)


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def connection(tenant, sdk_client, callbacks, gateway):
    tenant_services.add_phone_number(tenant, CALLER, actor=None)
    client = sdk_client()
    props = client.create_call(
        PhoneNumberIdentifier(CALLEE),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
    )
    gateway.advance(2)
    return client.get_call_connection(props.call_connection_id)


def test_ssml_plays_for_as_long_as_its_rendering_with_the_break(connection, callbacks, gateway):
    document = SPEAK.format('Hello <break time="3s"/> <prosody rate="slow">world</prosody>')
    seconds = tts.render_ssml(document).duration
    assert seconds > 3  # the break is in the audio

    connection.play_media(SsmlSource(ssml_text=document))
    gateway.advance(seconds - 0.2)
    assert media_types(callbacks) == ["PlayStarted"]
    gateway.advance(0.4)

    assert media_types(callbacks) == ["PlayStarted", "PlayCompleted"]


def test_ssml_is_a_recognize_prompt(connection, callbacks, gateway):
    connection.start_recognizing_media(
        RecognizeInputType.DTMF,
        PhoneNumberIdentifier(CALLEE),
        play_prompt=SsmlSource(ssml_text=SPEAK.format("Press <emphasis>one</emphasis>.")),
        initial_silence_timeout=2,
    )
    gateway.advance(8)

    [failed] = callbacks.of_type("RecognizeFailed")
    assert failed["data"]["resultInformation"]["subCode"] == 8510  # the prompt played


def test_an_unknown_element_is_refused_by_name(connection):
    with pytest.raises(HttpResponseError) as refused:
        connection.play_media(SsmlSource(ssml_text=SPEAK.format("<lexicon uri='x'/>Hi")))

    assert refused.value.status_code == 400
    assert "unsupported element <lexicon>" in str(refused.value)


def test_a_voice_name_speaks_its_language():
    british = tts.render_ssml(SPEAK.format('<voice name="en-GB-RyanNeural">Tomato</voice>'))
    american = tts.render_ssml(SPEAK.format('<voice name="en-US-JennyNeural">Tomato</voice>'))
    plain = tts.render_ssml(SPEAK.format("Tomato"))

    assert british.pcm != american.pcm
    assert american.pcm == plain.pcm


def test_the_rewritten_document_names_a_language_not_a_voice():
    rewritten, locale = ssml.for_espeak(
        SPEAK.format('<voice name="de-DE-KatjaNeural">Hallo</voice>'), lambda tag: True
    )
    assert 'xml:lang="de-de"' in rewritten
    assert "KatjaNeural" not in rewritten
    assert locale == "en-US"


def test_ssml_is_cached_per_scope(settings):
    document = SPEAK.format("Cached words")
    first = tts.render_ssml(document, scope="tenant-1")
    cached = list(settings.MEDIA_CACHE_DIR.glob("tts-*.wav"))

    assert tts.render_ssml(document, scope="tenant-1") == first
    assert list(settings.MEDIA_CACHE_DIR.glob("tts-*.wav")) == cached
    tts.render_ssml(document, scope="tenant-2")
    assert len(list(settings.MEDIA_CACHE_DIR.glob("tts-*.wav"))) == len(cached) + 1


def test_ssml_counts_its_characters_for_usage():
    document = SPEAK.format("Hi")
    payload = {"sources": [{"kind": "ssml", "text": document}, {"kind": "file", "uri": "x"}]}

    assert spoken_characters(payload) == len(document)
