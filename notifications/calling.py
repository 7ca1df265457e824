"""Running a notification call from its signed CloudEvents: each event moves the dial
through the call flow (notifications/flow.py); the engine is driven through its public
verbs only (calls.call_verbs, calls.media_verbs)."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callauto.errors import AcsError
from calls import call_verbs, media_verbs
from calls.identifiers import Identifier
from campaigns import callbacks
from carrier.media.play_sources import PlaySource
from notifications import audio, flow, services
from notifications.models import Dial, Disposition, Notification, Recipient
from reminders import services as contact_services
from reminders.models import Suppression
from tenants.models import Tenant

log = logging.getLogger(__name__)
A = Dial.State

CLOSING = {
    "thanks": "Thank you. Goodbye.",
    "opted-out": "You will not receive these calls anymore. Goodbye.",
    "heard": "Goodbye.",
}


def callback_url(tenant: Tenant, dial: Dial) -> str:
    base = settings.NOTIFICATIONS_CALLBACK_BASE_URL.rstrip("/")
    return f"{base}/t/{tenant.slug}/api/v1/notifications/callbacks/{dial.callback_token}"


def handle_events(tenant: Tenant, token: str, events: list[dict]) -> None:
    """Apply CloudEvents for the dial behind `token`, in order; a redelivered event (same
    id) is ignored. Raises Dial.DoesNotExist for an unknown or another tenant's token.
    Events the flow ignores are only logged, in one statement (campaigns.callbacks)."""
    if not callbacks.log_only(Dial, tenant.pk, token, events, flow.ACTS_ON):
        _apply_all(tenant, token, events)


@transaction.atomic
def _apply_all(tenant: Tenant, token: str, events: list[dict]) -> None:
    # The recipient is locked with the dial (finish_dial settles it without reading it
    # again); the notification is read, not locked.
    dial = (
        Dial.objects.for_tenant(tenant)
        .select_for_update(of=("self", "recipient"))
        .select_related("recipient", "notification")
        .get(callback_token=token)
    )
    callbacks.apply_in_order(dial, events, lambda row, event: _apply(tenant, row, event))


def _apply(tenant: Tenant, dial: Dial, event: dict) -> None:
    event_type = callbacks.event_type(event)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    now = timezone.now()
    dial.events.append(callbacks.log_entry(event, data, now))
    notification = dial.notification
    if event_type == "RecognizeCompleted":
        dial.tones.extend(flow.chosen(_facts(dial, notification), data))
    if event_type == "CallConnected":
        dial.state = A.CONNECTED
        dial.connected_at = now
    if dial.state == A.ENDED:
        dial.save(update_fields=["events", "tones"])
        return
    # As read by the dial's locking SELECT just now (joined): no round trip per event.
    cancelled = notification.status == Notification.Status.CANCELLED
    facts = _facts(dial, notification, cancelled=cancelled)
    decision = flow.decide(facts, event_type, data)
    if decision is None:
        dial.save()
        return
    dial.step = decision.step
    dial.replays = decision.replays if decision.replays is not None else dial.replays
    if decision.disposition and not dial.disposition:
        dial.disposition = decision.disposition
        dial.detail = decision.detail
    for action in decision.actions:
        _act(tenant, dial, action)
    if decision.ended:
        services.finish_dial(dial, dial.disposition or Disposition.FAILED, now, joined=True)
    else:
        dial.save()


def _facts(dial: Dial, notification: Notification, *, cancelled: bool = False) -> flow.Facts:
    return flow.Facts(
        step=dial.step,
        replays=dial.replays,
        max_replays=notification.max_replays,
        ack_key=notification.ack_key,
        replay_key=notification.replay_key,
        opt_out_key=notification.opt_out_key,
        cancelled=cancelled,
        disposition=dial.disposition,
    )


def _act(tenant: Tenant, dial: Dial, action: tuple[str, ...]) -> None:
    recipient, notification = dial.recipient, dial.notification
    connection_id = dial.call_connection_id
    try:
        if action[0] == flow.MESSAGE:
            media_verbs.recognize(
                tenant,
                connection_id,
                input_type="choices",
                choices=flow.choices(_facts(dial, notification)),
                target=Identifier.phone(recipient.phone),
                prompts=message_sources(notification, recipient, with_keys=True),
                interrupt_prompt=True,
                initial_silence=5,
                operation_context="notification-message",
            )
        elif action[0] == flow.PLAY:
            sources = (
                message_sources(notification, recipient, with_keys=False)
                if action[1] == "voicemail"
                else [_speech(notification, recipient, CLOSING[action[1]])]
            )
            media_verbs.play(
                tenant,
                connection_id,
                sources=sources,
                play_to=[],
                operation_context="notification-goodbye",
            )
        elif action[0] == flow.SUPPRESS:
            contact_services.suppress(
                tenant,
                recipient.phone,
                actor=None,
                reason=Suppression.Reason.OPTED_OUT,
                source=Suppression.Source.KEYPAD,
            )
        elif action[0] == flow.HANG_UP:
            call_verbs.hang_up(tenant, connection_id)
    except AcsError as exc:
        # The callee left meanwhile: CallDisconnected follows and ends the dial.
        log.info("notification dial %s: %s refused: %s", dial.pk, action[0], exc)


def _speech(notification: Notification, recipient: Recipient, text: str) -> PlaySource:
    return PlaySource(
        kind="text",
        text=text,
        locale=recipient.language or notification.language,
        voice_kind=notification.voice,
    )


def message_sources(
    notification: Notification, recipient: Recipient, *, with_keys: bool
) -> list[PlaySource]:
    """The message: the WAV if one was given (then the keys spoken), else the text. An
    uploaded WAV wins over an audioUrl."""
    if notification.audio_token or notification.audio_url:
        uri = audio.url(notification) if notification.audio_token else notification.audio_url
        sources = [PlaySource(kind="file", uri=uri)]
        if with_keys:
            sources.append(
                _speech(notification, recipient, services.key_instructions(notification))
            )
        return sources
    if with_keys:
        text = services.prompt_text(notification, name=recipient.name, area=recipient.area)
    else:
        text = services.render(notification.message, name=recipient.name, area=recipient.area)
    return [_speech(notification, recipient, text)]
