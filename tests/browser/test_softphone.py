"""The softphone in a real browser: a person answers the app's call and presses keys, and
calls a tenant number that the app answers."""

import time
from collections.abc import Callable

import pytest
from azure.communication.callautomation import (
    PhoneNumberIdentifier,
    RecognizeInputType,
    TextSource,
)
from playwright.sync_api import Page

from calls import softphone
from calls.models import Call
from tenants import services as tenant_services
from webhooks import subscriptions

pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "+14255550100"
PERSON = "+14255550199"


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


def advancing(page: Page, gateway) -> Callable[..., None]:
    """`until(condition)`: run the gateway (0.1 s of virtual time per turn) while the page
    polls, until `condition()` holds."""

    def until(condition: Callable[[], object], seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            gateway.advance(0.1)
            if condition():
                return
            page.wait_for_timeout(100)
        raise AssertionError("timed out")

    return until


def test_a_person_answers_on_the_softphone_hears_the_prompt_and_presses_one(
    tenant, log_in, screenshot, sdk_client, callbacks, gateway
):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    identity = softphone.add_identity(tenant, PERSON, actor=None)
    page = log_in("owner")
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"/portal/t/acme/softphone/?as={identity.pk}")
    until = advancing(page, gateway)

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
    assert errors == []  # the keypad's WebAudio tone included
    screenshot(page, "softphone")

    # The call's page shows the result in its event timeline.
    call = Call.unscoped.get(connections__call_connection_id=placed.call_connection_id)
    page.goto(f"/portal/t/acme/calls/{call.pk}/")
    assert page.locator("ol.timeline").get_by_text("RecognizeCompleted").count() == 1


def test_a_person_calls_a_tenant_number_from_the_softphone_and_the_app_answers(
    tenant, log_in, sdk_client, callbacks, grid_receiver, gateway
):
    tenant_services.add_phone_number(tenant, NUMBER, actor=None)
    subscriptions.subscribe_events(
        tenant, endpoint_url=grid_receiver.url, event_types=[], actor=None
    )
    identity = softphone.add_identity(tenant, PERSON, actor=None)
    page = log_in("owner")
    page.goto(f"/portal/t/acme/softphone/?as={identity.pk}")
    until = advancing(page, gateway)

    page.get_by_role("button", name="Call", exact=True).click()
    calling = page.locator("#softphone-legs li.calling")
    until(lambda: calling.count() == 1)
    [incoming] = grid_receiver.of_type("IncomingCall")
    assert incoming["data"]["from"]["rawId"] == f"4:{PERSON}"

    sdk_client().answer_call(incoming["data"]["incomingCallContext"], callbacks.url)
    connected = page.locator("#softphone-legs li.connected")
    until(lambda: connected.count() == 1)
    assert "CallConnected" in callbacks.types()

    connected.get_by_role("button", name="Hang up").click()
    until(lambda: "CallDisconnected" in callbacks.types())
    until(lambda: page.locator("#softphone-legs li").count() == 0)
