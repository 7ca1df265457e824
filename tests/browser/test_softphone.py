import time
from collections.abc import Callable

import pytest
from azure.communication.callautomation import (
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)

from calls import softphone
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "+14255550100"
PERSON = "+14255550199"


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


def test_a_person_answers_on_the_softphone_hears_the_prompt_and_presses_one(
    tenant, log_in, screenshot, sdk_client, callbacks, gateway
):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    identity = softphone.add_identity(tenant, PERSON, actor=None)
    page = log_in("owner")
    page.goto(f"/portal/t/acme/softphone/?as={identity.pk}")

    def until(condition: Callable[[], object], seconds: float = 15) -> None:
        """Run the gateway (0.1 s of virtual time per turn) while the page polls."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            gateway.advance(0.1)
            if condition():
                return
            page.wait_for_timeout(100)
        raise AssertionError("timed out")

    client = sdk_client()
    placed = client.create_call(
        PhoneNumberIdentifier(PERSON),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(NUMBER),
    )
    ringing = page.locator("#softphone-legs li.ringing")
    until(lambda: ringing.count() == 1)
    assert NUMBER in ringing.inner_text()

    ringing.get_by_role("button", name="Answer").click()
    until(lambda: "CallConnected" in callbacks.types())
    client.get_call_connection(placed.call_connection_id).start_recognizing_media(
        RecognizeInputType.DTMF,
        PhoneNumberIdentifier(PERSON),
        play_prompt=TextSource(text="Press one to confirm your appointment."),
        initial_silence_timeout=60,
    )
    duration = "document.getElementById('softphone-audio').duration"
    until(lambda: page.evaluate(f"{duration} > 0"))  # the prompt's audio loaded
    gateway.advance(page.evaluate(duration) + 0.5)  # the prompt is over: recognize listens

    page.locator(".keypad button[data-key='1']").click()
    until(lambda: callbacks.of_type("RecognizeCompleted"))

    [completed] = callbacks.of_type("RecognizeCompleted")
    assert completed["data"]["dtmfResult"]["tones"] == ["one"]
    assert page.locator("#softphone-legs li.connected").count() == 1
    screenshot(page, "softphone")
