"""An uploaded WAV played on a real notification call: the engine fetches it over HTTP
from our unguessable URL (live server) and plays it instead of the text, then the key
instructions; the callee's key acknowledges."""

import pytest

from calls.models import MediaOperation
from notifications import audio
from tests.notifications.conftest import household
from tests.notifications.test_audio import wav
from tests.notifications.test_call_flow import run_one

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("wired", "clock", "media_root"),
]


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


def test_the_uploaded_wav_is_played_instead_of_the_text(acme, notify, gateway):
    household(acme, 1, keys=[(4, "1", "prompt")])
    notification = notify()
    audio.attach(acme, notification.pk, wav(3.0), name="outage.wav", actor=None)
    notification.refresh_from_db()

    recipient = run_one(acme, notification, gateway)

    assert recipient.disposition == "acknowledged"
    message = MediaOperation.objects.for_tenant(acme).filter(kind="recognize").get()
    file_source, keys = message.payload["prompts"]
    assert (file_source["kind"], file_source["uri"]) == ("file", audio.url(notification))
    assert notification.audio_token in file_source["uri"]
    assert keys["kind"] == "text"
    assert "Press 1" in keys["text"]
    assert "Power will be off" not in keys["text"]  # the text is not spoken
    assert message.state == "completed"  # fetched and played: no 8536 download failure
    # The key came 4 s into the prompt: inside the 3 s file plus the instructions.
    assert recipient.dials.get().tones == ["one"]
