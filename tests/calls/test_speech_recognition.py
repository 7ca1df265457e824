"""Recognize speech, choices and speechOrDtmf end to end: the official SDK, the gateway's
simulated carrier on a virtual clock, callees that speak (espeak-ng into their leg) and
pocketsphinx recognizing what they say in worker processes."""

import pytest
from azure.communication.callautomation import (
    DtmfTone,
    PhoneNumberIdentifier,
    RecognitionChoice,
    RecognizeInputType,
    TextSource,
)

from calls.models import MediaOperation, SimulatedCallee
from carrier.media import speech, tts
from tenants import services as tenant_services
from tests.calls.test_media_flows import CALLEE, CALLER, media_types

pytestmark = pytest.mark.django_db(transaction=True)

CHOICES = [
    RecognitionChoice(label="Confirm", phrases=["confirm", "yes"], tone=DtmfTone.ONE),
    RecognitionChoice(label="Cancel", phrases=["cancel"], tone=DtmfTone.TWO),
    RecognitionChoice(label="Operator", phrases=["operator"], tone=DtmfTone.ZERO),
]


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def connected(tenant, sdk_client, callbacks, gateway):
    """Start a connected 1:1 call to CALLEE; returns its CallConnectionClient."""
    tenant_services.add_phone_number(tenant, CALLER, actor=None)

    def start():
        client = sdk_client()
        props = client.create_call(
            PhoneNumberIdentifier(CALLEE),
            callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(CALLER),
        )
        gateway.advance(2)
        return client.get_call_connection(props.call_connection_id)

    return start


def speaks(tenant, *steps, keys=()):
    """The callee says each (seconds into the prompt, text); presses `keys` likewise."""
    SimulatedCallee.unscoped.create(
        tenant=tenant,
        raw_id=f"4:{CALLEE}",
        says=[[at, text, "prompt"] for at, text in steps],
        keys=[[at, key, "prompt"] for at, key in keys],
    )


def recognize(connection, input_type, **options):
    connection.start_recognizing_media(
        input_type,
        PhoneNumberIdentifier(CALLEE),
        play_prompt=options.pop("prompt", TextSource(text="Say confirm or cancel.")),
        **options,
    )


def heard_alone(text: str) -> str:
    audio = tts.render(text)
    start, end = speech.voiced_span(audio.pcm)
    return speech.shared().submit(audio.pcm[start * 2 : end * 2]).result(timeout=60).text


def completed(callbacks) -> dict:
    [event] = callbacks.of_type("RecognizeCompleted")
    return event["data"]


def failed_sub_code(callbacks) -> int:
    [event] = callbacks.of_type("RecognizeFailed")
    return event["data"]["resultInformation"]["subCode"]


def test_a_choice_is_recognized_from_the_callee_saying_confirm(
    tenant, connected, callbacks, gateway
):
    speaks(tenant, (3, "confirm"))
    connection = connected()

    recognize(connection, RecognizeInputType.CHOICES, choices=CHOICES)
    gateway.advance(8)

    data = completed(callbacks)
    assert data["recognitionType"] == "choices"
    assert data["choiceResult"]["label"] == "Confirm"
    assert data["choiceResult"]["recognizedPhrase"] == "confirm"
    assert 0 < data["choiceResult"]["confidence"] <= 1
    assert data["resultInformation"]["subCode"] == 8545


def test_a_choice_is_recognized_from_its_tone(tenant, connected, callbacks, gateway):
    speaks(tenant, keys=[(3, "2")])
    connection = connected()

    recognize(connection, RecognizeInputType.CHOICES, choices=CHOICES)
    gateway.advance(8)

    data = completed(callbacks)
    assert data["choiceResult"]["label"] == "Cancel"
    assert data["resultInformation"]["subCode"] == 8533


def test_a_tone_of_no_choice_fails_with_8534(tenant, connected, callbacks, gateway):
    speaks(tenant, keys=[(3, "9")])
    connection = connected()

    recognize(connection, RecognizeInputType.CHOICES, choices=CHOICES)
    gateway.advance(8)

    assert failed_sub_code(callbacks) == 8534


def test_a_sentence_that_is_no_choice_fails_with_8547(tenant, connected, callbacks, gateway):
    speaks(tenant, (3, "the weather is nice today"))
    connection = connected()

    recognize(connection, RecognizeInputType.CHOICES, choices=CHOICES)
    gateway.advance(10)

    assert failed_sub_code(callbacks) == 8547


def test_silence_after_the_prompt_fails_speech_with_8510(connected, callbacks, gateway):
    connection = connected()

    recognize(connection, RecognizeInputType.SPEECH, initial_silence_timeout=2)
    gateway.advance(8)

    assert failed_sub_code(callbacks) == 8510


def test_speech_is_transcribed_after_the_end_silence(tenant, connected, callbacks, gateway):
    speaks(tenant, (3, "please call me back tomorrow"))
    connection = connected()

    recognize(connection, RecognizeInputType.SPEECH, end_silence_timeout=1)
    gateway.advance(12)

    data = completed(callbacks)
    assert data["recognitionType"] == "speech"
    # What the recognizer makes of the sentence on its own: the call carried the callee's
    # audio to it intact (how well it hears espeak-ng is test_speech_accuracy's business).
    assert data["speechResult"]["speech"] == heard_alone("please call me back tomorrow")
    assert 0 < data["speechResult"]["confidence"] <= 1
    assert data["resultInformation"]["code"] == 200


def test_speech_or_dtmf_takes_keys(tenant, connected, callbacks, gateway):
    speaks(tenant, keys=[(3, "5")])
    connection = connected()

    recognize(connection, RecognizeInputType.SPEECH_OR_DTMF, dtmf_max_tones_to_collect=1)
    gateway.advance(8)

    data = completed(callbacks)
    assert data["recognitionType"] == "dtmf"
    assert data["dtmfResult"]["tones"] == ["five"]


def test_speech_or_dtmf_takes_speech(tenant, connected, callbacks, gateway):
    speaks(tenant, (3, "please call me back tomorrow"))
    connection = connected()

    recognize(connection, RecognizeInputType.SPEECH_OR_DTMF)
    gateway.advance(12)

    assert completed(callbacks)["recognitionType"] == "speech"


def test_speech_barges_in_on_the_prompt(tenant, connected, callbacks, gateway):
    speaks(tenant, (0.5, "cancel"))
    connection = connected()
    long_prompt = TextSource(text="Say confirm to keep your appointment, or cancel. " * 3)

    recognize(
        connection,
        RecognizeInputType.CHOICES,
        choices=CHOICES,
        prompt=long_prompt,
        interrupt_prompt=True,
    )
    gateway.advance(3)  # the prompt alone lasts far longer

    assert completed(callbacks)["choiceResult"]["label"] == "Cancel"


def test_speech_over_a_prompt_without_barge_in_is_not_heard(tenant, connected, callbacks, gateway):
    speaks(tenant, (0.5, "cancel"))
    connection = connected()

    recognize(connection, RecognizeInputType.CHOICES, choices=CHOICES, initial_silence_timeout=2)
    gateway.advance(10)

    assert failed_sub_code(callbacks) == 8510
    assert MediaOperation.unscoped.get().state == MediaOperation.State.FAILED


def test_speech_result_is_recorded_with_the_operation(tenant, connected, callbacks, gateway):
    speaks(tenant, (3, "operator"))
    connection = connected()

    recognize(connection, RecognizeInputType.CHOICES, choices=CHOICES)
    gateway.advance(8)

    assert MediaOperation.unscoped.get().result["label"] == "Operator"
    assert media_types(callbacks)[-1] == "RecognizeCompleted"
