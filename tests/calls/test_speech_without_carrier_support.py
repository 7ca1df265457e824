"""A carrier that cannot recognize speech or stream (the SIP driver, for now) fails those
operations with their ACS events instead of ignoring them."""

import pytest
from azure.communication.callautomation import (
    MediaStreamingOptions,
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)

from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)

OUR_NUMBER, CALLEE = "+14255550100", "+14255550123"


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def call(tenant, sdk_client, callbacks, gateway):
    tenant_services.add_phone_number(tenant, OUR_NUMBER, actor=None)

    def start(**options):
        client = sdk_client()
        props = client.create_call(
            PhoneNumberIdentifier(CALLEE),
            callbacks.url,
            source_caller_id_number=PhoneNumberIdentifier(OUR_NUMBER),
            **options,
        )
        gateway.advance(2)
        return client.get_call_connection(props.call_connection_id)

    return start


def test_speech_on_a_carrier_without_it_fails_with_8564(call, callbacks, gateway):
    gateway.carrier.recognizes_speech = False
    connection = call()

    connection.start_recognizing_media(
        RecognizeInputType.SPEECH, PhoneNumberIdentifier(CALLEE), play_prompt=TextSource(text="Hi")
    )
    gateway.advance(1)

    [failed] = callbacks.of_type("RecognizeFailed")
    assert failed["data"]["resultInformation"]["subCode"] == 8564
    assert "cannot recognize speech" in failed["data"]["resultInformation"]["message"]


def test_a_stream_on_a_carrier_without_streams_fails(call, callbacks, gateway, monkeypatch):
    def no_streams(command):
        raise NotImplementedError("no streams here")

    monkeypatch.setattr(gateway.carrier, "start_stream", no_streams)
    options = MediaStreamingOptions(
        transport_url="ws://127.0.0.1:9/x",
        transport_type="websocket",
        content_type="audio",
        audio_channel_type="mixed",
        start_media_streaming=True,
    )

    connection = call(media_streaming=options)

    [failed] = callbacks.of_type("MediaStreamingFailed")
    assert failed["data"]["mediaStreamingUpdate"]["mediaStreamingStatus"] == "mediaStreamingFailed"
    assert connection.get_call_properties().media_streaming_subscription.state == "inactive"
