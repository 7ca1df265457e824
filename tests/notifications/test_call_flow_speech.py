"""Notification calls answered by voice: the message is a recognize with choices, so a
callee may say "yes" (acknowledge, like the ack key) or "repeat" (the message again, like
the replay key); pocketsphinx hears the simulated callee's espeak-ng speech. The dial
records that the answer was spoken ("said:<phrase>")."""

import pytest

from calls.models import MediaOperation
from tests.notifications.conftest import household
from tests.notifications.test_call_flow import run_one, types

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wired", "clock")]


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


def test_saying_yes_acknowledges(acme, notify, gateway):
    household(acme, 1, says=[[1, "yes", "prompt"]])
    notification = notify()

    recipient = run_one(acme, notification, gateway)

    assert (recipient.state, recipient.disposition) == ("done", "acknowledged")
    assert recipient.acknowledged_at is not None
    dial = recipient.dials.get()
    assert dial.tones == ["said:yes"]
    assert "RecognizeCompleted" in types(dial)
    recognize = MediaOperation.objects.for_tenant(acme).filter(kind="recognize").get()
    labels = {c["label"]: c for c in recognize.payload["choices"]}
    assert labels["acknowledge"]["phrases"] == ["yes"]
    assert labels["acknowledge"]["tone"] == "one"


def test_saying_repeat_replays_then_yes_acknowledges(acme, notify, gateway):
    # "yes" 12 s after the answer: into the replayed message (which starts at about 5 s).
    # "repeat please": the lone word in espeak-ng's default voice is too short for
    # pocketsphinx to hear it (a limit of the simulated recognizer, reminders' too).
    household(acme, 1, says=[[1, "repeat please", "prompt"], [12, "yes"]])
    notification = notify()

    recipient = run_one(acme, notification, gateway, seconds=180)

    dial = recipient.dials.get()
    assert (dial.tones, dial.replays, recipient.disposition) == (
        ["said:repeat", "said:yes"],
        1,
        "acknowledged",
    )
    assert types(dial).count("RecognizeCompleted") == 2


def test_a_key_still_works_and_words_of_no_choice_replay(acme, notify, gateway):
    # The key 12 s after the answer: into the replayed message.
    household(acme, 1, says=[[1, "the weather is nice today", "prompt"]], keys=[(12, "1")])
    notification = notify()

    recipient = run_one(acme, notification, gateway, seconds=180)

    dial = recipient.dials.get()
    assert (dial.replays, dial.tones, recipient.disposition) == (1, ["one"], "acknowledged")
