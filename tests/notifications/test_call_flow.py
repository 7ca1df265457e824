"""Notification calls end to end: the dispatcher places them through calls.call_verbs,
the simulated carrier plays the callee on a virtual clock, and durable delivery POSTs
every CloudEvent over HTTP (JWT-signed) to the notifications endpoint on the live server,
which drives the flow: acknowledge, replay, opt out, voicemail, busy / no answer retried."""

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call, SimulatedCallee
from notifications import dispatcher, services
from notifications.models import Dial, Notification, Recipient
from reminders.models import Suppression
from tests.notifications.conftest import household

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wired", "clock")]


def run_one(acme, notification, gateway, seconds: float = 120) -> Recipient:
    services.launch(acme, notification.pk, actor=None)
    assert dispatcher.tick(acme) == 1
    gateway.advance(seconds)
    return Recipient.objects.for_tenant(acme).get(notification=notification)


def types(dial: Dial) -> list[str]:
    return [e["type"] for e in dial.events]


def test_pressing_1_acknowledges_and_completes_the_notification(acme, notify, gateway):
    household(acme, 1, keys=[(1, "1", "prompt")])
    notification = notify()

    recipient = run_one(acme, notification, gateway)

    assert (recipient.state, recipient.disposition) == ("done", "acknowledged")
    assert recipient.acknowledged_at is not None
    dial = recipient.dials.get()
    assert dial.tones == ["one"]
    assert (types(dial)[0], types(dial)[-1]) == ("CallConnected", "CallDisconnected")
    notification.refresh_from_db()
    assert notification.status == Notification.Status.COMPLETED
    assert Call.objects.for_tenant(acme).get().state == Call.State.DISCONNECTED


def test_replay_then_acknowledge(acme, notify, gateway):
    household(acme, 1, keys=[(1, "2", "prompt"), (8, "1")])
    notification = notify()

    recipient = run_one(acme, notification, gateway)

    dial = recipient.dials.get()
    assert (dial.tones, dial.replays, recipient.disposition) == (
        ["two", "one"],
        1,
        "acknowledged",
    )


def test_replays_are_limited_then_the_call_ends_as_heard(acme, notify, gateway):
    household(acme, 1, keys=[(1, "2", "prompt"), (8, "2"), (15, "2")])
    notification = notify(max_replays=1)

    recipient = run_one(acme, notification, gateway, seconds=180)

    assert recipient.disposition == "heard"
    assert recipient.dials.get().replays == 1


def test_no_key_after_the_message_leaves_it_once_as_voicemail(acme, notify, gateway):
    household(acme, 1, outcome="voicemail")
    notification = notify()

    recipient = run_one(acme, notification, gateway, seconds=180)

    dial = recipient.dials.get()
    assert recipient.disposition == "voicemail"
    assert types(dial).count("RecognizeFailed") == 1
    assert "PlayCompleted" in types(dial)
    assert types(dial)[-1] == "CallDisconnected"


def test_pressing_9_opts_out_for_good(acme, notify, gateway):
    household(acme, 1, keys=[(1, "9", "prompt")])
    notification = notify()

    recipient = run_one(acme, notification, gateway)

    assert recipient.disposition == "opted-out"
    suppression = Suppression.objects.for_tenant(acme).get()
    assert (suppression.reason, suppression.source) == ("opted-out", "keypad")


def test_the_keys_are_configurable(acme, notify, gateway):
    household(acme, 1, keys=[(1, "1", "prompt"), (8, "5")])
    notification = notify(ack_key="5", replay_key="1", opt_out_key="0")

    recipient = run_one(acme, notification, gateway)

    assert recipient.disposition == "acknowledged"
    assert recipient.dials.get().tones == ["one", "five"]


def test_busy_is_retried_in_the_next_round_with_back_off(acme, notify, gateway, clock):
    household(acme, 1, outcome="busy")
    notification = notify(retry_delay_minutes=5, max_rounds=3)

    recipient = run_one(acme, notification, gateway, seconds=5)

    assert (recipient.state, recipient.round) == ("waiting", 2)
    wait = recipient.next_attempt_at - timezone.now()
    assert timedelta(minutes=4) < wait <= timedelta(minutes=5)
    assert dispatcher.tick(acme) == 0  # not yet

    clock.shift(timedelta(minutes=5, seconds=1))
    assert dispatcher.tick(acme) == 1
    gateway.advance(5)
    recipient.refresh_from_db()
    wait = recipient.next_attempt_at - timezone.now()
    assert recipient.round == 3
    assert timedelta(minutes=9) < wait <= timedelta(minutes=10)  # doubled

    SimulatedCallee.objects.for_tenant(acme).update(outcome="answer", keys=[[1, "1", "prompt"]])
    clock.shift(timedelta(minutes=10, seconds=1))
    assert dispatcher.tick(acme) == 1
    gateway.advance(60)
    recipient.refresh_from_db()
    assert (recipient.disposition, recipient.dial_count) == ("acknowledged", 3)
    assert list(recipient.dials.values_list("round", flat=True)) == [1, 2, 3]


def test_no_answer_in_every_round_ends_no_answer(acme, notify, gateway, clock):
    household(acme, 1, outcome="no_answer")
    notification = notify(retry_delay_minutes=1, max_rounds=2)

    recipient = run_one(acme, notification, gateway, seconds=70)
    clock.shift(timedelta(minutes=1, seconds=1))
    assert dispatcher.tick(acme) == 1
    gateway.advance(70)

    recipient.refresh_from_db()
    assert (recipient.state, recipient.disposition, recipient.dial_count) == (
        "done",
        "no-answer",
        2,
    )
    notification.refresh_from_db()
    assert notification.status == Notification.Status.COMPLETED


def test_the_campaign_events_reach_the_events_url_in_order(acme, notify, gateway, callbacks):
    household(acme, 1, keys=[(1, "1", "prompt")])
    notification = notify(events_url=callbacks.url)

    run_one(acme, notification, gateway)

    events = [r["body"][0] for r in callbacks.requests]
    assert [e["type"] for e in events] == [
        "Callauto.Notification.Launched",
        "Callauto.Notification.Acknowledged",
        "Callauto.Notification.Completed",
    ]
    assert events[1]["data"]["phone"] == "+14255560001"
    assert events[2]["data"]["acknowledged"] == 1
    assert [e["sequence"] for e in events] == ["1", "2", "3"]


def test_pause_stops_dialling_and_resume_carries_on(acme, notify, gateway):
    acme.calls_per_second = 1
    acme.save()
    for n in (1, 2):
        household(acme, n, keys=[(1, "1", "prompt")])
    notification = notify()
    services.launch(acme, notification.pk, actor=None)
    assert dispatcher.tick(acme) == 1

    services.pause(acme, notification.pk, actor=None)
    gateway.advance(60)  # the call in progress finishes
    assert dispatcher.tick(acme, timezone.now() + timedelta(seconds=2)) == 0

    services.resume(acme, notification.pk, actor=None)
    assert dispatcher.tick(acme, timezone.now() + timedelta(seconds=2)) == 1
    gateway.advance(60)
    notification.refresh_from_db()
    assert notification.status == Notification.Status.COMPLETED
    assert set(Recipient.objects.for_tenant(acme).values_list("disposition", flat=True)) == {
        "acknowledged"
    }


def test_cancel_stops_new_dials_and_may_hang_up_calls_in_progress(acme, notify, gateway):
    acme.calls_per_second = 1
    acme.save()
    for n in (1, 2):
        household(acme, n, answer_after=2, keys=[(30, "1")])
    notification = notify()
    services.launch(acme, notification.pk, actor=None)
    assert dispatcher.tick(acme) == 1
    gateway.advance(5)  # the first call is connected, the message playing

    services.cancel(acme, notification.pk, actor=None, hang_up=True)
    gateway.advance(60)

    assert dispatcher.tick(acme, timezone.now() + timedelta(seconds=2)) == 0
    dispositions = dict(Recipient.objects.for_tenant(acme).values_list("phone", "disposition"))
    assert dispositions["+14255560002"] == "cancelled"
    assert dispositions["+14255560001"] == "hung-up"  # we hung up during the message
    assert Call.objects.for_tenant(acme).get().state == Call.State.DISCONNECTED
