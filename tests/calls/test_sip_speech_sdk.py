"""Speech over a SIP trunk with the official SDK (issue 18): SIPp is the callee, playing a
pcap of espeak-ng saying a word (G.711 RTP written by the test); the gateway carries the
call in real time and its SIP media engine hears the word: RecognizeCompleted with the
choice's label, through the same recognizer and outcome mapping as the simulated carrier."""

import numpy as np
import pytest
from azure.communication.callautomation import (
    DtmfTone,
    PhoneNumberIdentifier,
    RecognitionChoice,
    RecognizeInputType,
)

from carrier.media import tts
from tests.calls.test_sip_trunk_sdk import CALLEE, CALLER, bind_trunk
from tests.carrier.sip import pcap
from tests.carrier.sip.sipp import SIPP, SKIP_REASON, scenario, sipp

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(SIPP is None, reason=SKIP_REASON),
    pytest.mark.usefixtures("sip_settings"),
]

CHOICES = [
    RecognitionChoice(label="Confirm", phrases=["confirm", "yes"], tone=DtmfTone.ONE),
    RecognitionChoice(label="Cancel", phrases=["cancel"], tone=DtmfTone.TWO),
]
LEAD = 3.0  # seconds of silence before the word: the app has asked by then


def saying(tmp_path, text: str, lead: float = LEAD):
    audio = np.frombuffer(tts.render(text).pcm, dtype="<i2").astype(np.int16)
    quiet = np.zeros(round(lead * 8000), dtype=np.int16)
    pcm = np.concatenate([quiet, audio, np.zeros(8000 * 4, dtype=np.int16)])
    path = pcap.write(tmp_path / "says.pcap", pcm)
    return scenario("uas_says.xml", tmp_path, PCAP=str(path))


def call_sipp(tenant, sdk_client, callbacks, sip_gateway, peer):
    bind_trunk(tenant, peer.port)
    assert len(sip_gateway.sync()) == 1
    client = sdk_client()
    props = client.create_call(
        PhoneNumberIdentifier(CALLEE), callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(CALLER),
    )  # fmt: skip
    sip_gateway.run_until(lambda: callbacks.of_type("CallConnected"))
    return client.get_call_connection(props.call_connection_id)


def test_a_word_said_on_a_sip_leg_is_recognized_as_its_choice(
    tenant, sdk_client, callbacks, sip_gateway, tmp_path
):
    path = saying(tmp_path, "cancel")
    with sipp(tmp_path, "-sf", str(path), timeout="40s") as peer:
        connection = call_sipp(tenant, sdk_client, callbacks, sip_gateway, peer)
        connection.start_recognizing_media(
            RecognizeInputType.CHOICES, PhoneNumberIdentifier(CALLEE), choices=CHOICES,
            initial_silence_timeout=15, operation_context="menu",
        )  # fmt: skip
        sip_gateway.run_until(
            lambda: callbacks.of_type("RecognizeCompleted") or callbacks.of_type("RecognizeFailed"),
            timeout=25,
        )
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))
        assert peer.wait() == 0, peer.output()

    assert not callbacks.of_type("RecognizeFailed"), callbacks.of_type("RecognizeFailed")
    [done] = callbacks.of_type("RecognizeCompleted")
    result = done["data"]["choiceResult"]
    assert result["label"] == "Cancel"
    assert result["recognizedPhrase"] == "cancel"
    assert done["data"]["recognitionType"] == "choices"
    assert done["data"]["operationContext"] == "menu"


def test_silence_on_a_sip_leg_fails_the_speech_recognize_with_initial_silence(
    tenant, sdk_client, callbacks, sip_gateway, tmp_path
):
    path = saying(tmp_path, "cancel", lead=20.0)  # says it far too late
    with sipp(tmp_path, "-sf", str(path), timeout="40s") as peer:
        connection = call_sipp(tenant, sdk_client, callbacks, sip_gateway, peer)
        connection.start_recognizing_media(
            RecognizeInputType.SPEECH, PhoneNumberIdentifier(CALLEE), initial_silence_timeout=2,
        )  # fmt: skip
        sip_gateway.run_until(lambda: callbacks.of_type("RecognizeFailed"), timeout=15)
        connection.hang_up(is_for_everyone=True)
        sip_gateway.run_until(lambda: callbacks.of_type("CallDisconnected"))

    [failed] = callbacks.of_type("RecognizeFailed")
    assert failed["data"]["resultInformation"]["subCode"] == 8510  # initial silence timeout
