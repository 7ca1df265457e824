import pytest

from calls import server_call_verbs
from calls.identifiers import Identifier
from tests.calls.api_support import signed
from tests.recordings.storage import temporary_recordings_storage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def recordings_dir(tmp_path):
    with temporary_recordings_storage(tmp_path / "recordings") as directory:
        yield directory


def test_a_recording_plays_in_the_browser(client, tenant, gateway, log_in, screenshot):
    call = server_call_verbs.simulate_p2p_call(
        tenant, caller=Identifier.user("8:acs:customer"), callee=Identifier.user("8:acs:agent")
    )
    gateway.advance(2)
    body = {"callLocator": {"kind": "serverCallLocator", "serverCallId": call.server_call_id}}
    recording_id = signed(client, tenant, "POST", "recordings", body).json()["recordingId"]
    gateway.advance(5)
    signed(client, tenant, "DELETE", f"recordings/{recording_id}")
    gateway.advance(0.1)

    page = log_in("owner")
    page.goto(f"/portal/t/{tenant.slug}/recordings/")
    audio = page.locator("audio").first
    audio.evaluate("a => a.load()")
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1")

    assert audio.evaluate("a => a.duration") == pytest.approx(5.0, abs=0.05)
    screenshot(page, "recordings")
