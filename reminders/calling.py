"""Running a reminder call from its signed CloudEvents: each event moves the attempt
through the call flow (reminders/flow.py) and the engine is driven through its public verbs.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callauto.errors import AcsError
from calls import call_verbs, media_verbs, participant_verbs
from calls.identifiers import Identifier
from campaigns import callbacks
from carrier.media.play_sources import PlaySource
from reminders import flow, speech
from reminders.models import (
    Appointment,
    Attempt,
    Contact,
    Disposition,
    ReminderPlan,
    Suppression,
)
from reminders.services import contact_zone, finish_attempt, suppress
from tenants.models import Tenant

log = logging.getLogger(__name__)
A = Attempt.State
S = Appointment.Status


def callback_url(tenant: Tenant, attempt: Attempt) -> str:
    base = settings.REMINDERS_CALLBACK_BASE_URL.rstrip("/")
    return f"{base}/t/{tenant.slug}/api/v1/reminders/callbacks/{attempt.callback_token}"


def handle_events(tenant: Tenant, token: str, events: list[dict]) -> None:
    """Apply CloudEvents for the attempt behind `token`, in the order given.

    Each event is kept on the attempt (the audit trail); one already kept (same id: a
    redelivery) is ignored. Raises Attempt.DoesNotExist for an unknown or foreign token.
    Events the flow ignores (a third of a call's) are only logged, in one statement.
    """
    if not callbacks.log_only(Attempt, tenant.pk, token, events, flow.ACTS_ON):
        _apply_all(tenant, token, events)


@transaction.atomic
def _apply_all(tenant: Tenant, token: str, events: list[dict]) -> None:
    attempt = (
        Attempt.objects.for_tenant(tenant)
        # Only the attempt's row: locking the joined plan or number would make every call
        # of a campaign wait for the others' events.
        .select_for_update(of=("self",))
        .select_related(
            "appointment",
            "appointment__contact",
            "appointment__plan",
            "appointment__plan__caller_id",
        )
        .get(callback_token=token)
    )
    callbacks.apply_in_order(attempt, events, lambda row, event: _apply(tenant, row, event))


def _apply(tenant: Tenant, attempt: Attempt, event: dict) -> None:
    event_type = callbacks.event_type(event)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    now = timezone.now()
    attempt.events.append(callbacks.log_entry(event, data, now))
    if event_type == "RecognizeCompleted":
        attempt.tones.extend(_chosen(data))
    if event_type == "CallConnected":
        attempt.state = A.CONNECTED
        attempt.connected_at = now
        attempt.server_call_id = data.get("serverCallId") or attempt.server_call_id
    appointment = attempt.appointment
    if attempt.state == A.ENDED:
        attempt.save(update_fields=["events", "tones"])
        return
    facts = flow.Facts(
        step=attempt.step,
        silences=attempt.silences,
        replays=attempt.replays,
        has_office=bool(appointment.plan.office_number),
        # Only an answer asks whether the appointment is still on (it may have been
        # cancelled since dispatch): as read by the attempt's locking SELECT just now, no
        # second round trip.
        appointment_status=appointment.status,
        disposition=attempt.disposition,
    )
    decision = flow.decide(facts, event_type, data)
    if decision is None:
        attempt.save()
        return
    attempt.step = decision.step
    attempt.silences = decision.silences if decision.silences is not None else attempt.silences
    attempt.replays = decision.replays if decision.replays is not None else attempt.replays
    if decision.disposition and not attempt.disposition:
        attempt.disposition = decision.disposition
        attempt.detail = decision.detail
    if decision.appointment_status:
        Appointment.unscoped.filter(pk=appointment.pk, status=S.SCHEDULED).update(
            status=decision.appointment_status, next_attempt_at=None, updated_at=now
        )
        appointment.status = decision.appointment_status
    for action in decision.actions:
        _act(tenant, attempt, action)
    if decision.ended:
        finish_attempt(attempt, attempt.disposition or Disposition.FAILED, now)
    else:
        attempt.save()


def _chosen(data: dict) -> list[str]:
    """What the callee chose, for the attempt's record: key names ("one"), or "said:<phrase>"
    for a choice they spoke."""
    choice = data.get("choiceResult") or {}
    if choice.get("recognizedPhrase"):
        return [f"said:{choice['recognizedPhrase']}"]
    if choice.get("label") in flow.LABEL_TONES:
        return [flow.LABEL_TONES[choice["label"]]]
    return list((data.get("dtmfResult") or {}).get("tones") or [])


def _act(tenant: Tenant, attempt: Attempt, action: tuple[str, ...]) -> None:
    appointment = attempt.appointment
    contact, plan = appointment.contact, appointment.plan
    connection_id = attempt.call_connection_id
    try:
        if action[0] == flow.RECOGNIZE:
            media_verbs.recognize(
                tenant,
                connection_id,
                input_type="choices",
                choices=flow.CHOICES,
                target=Identifier.phone(contact.phone),
                prompts=[_speech(plan, contact, prompt_text(appointment))],
                interrupt_prompt=True,
                initial_silence=5,
                operation_context="reminder-menu",
            )
        elif action[0] == flow.PLAY:
            text = speech.GOODBYE[action[1]].format(name=contact.name, when=_when(appointment))
            media_verbs.play(
                tenant,
                connection_id,
                sources=[_speech(plan, contact, text)],
                play_to=[],
                operation_context="reminder-goodbye",
            )
        elif action[0] == flow.ADD_OFFICE:
            participant_verbs.add_participant(
                tenant,
                connection_id,
                target=Identifier.phone(plan.office_number),
                source_caller_id=plan.caller_id.e164,
                operation_context="reminder-office",
            )
        elif action[0] == flow.SUPPRESS:
            suppress(
                tenant,
                contact.phone,
                actor=None,
                reason=Suppression.Reason.OPTED_OUT,
                source=Suppression.Source.KEYPAD,
            )
        elif action[0] == flow.HANG_UP:
            call_verbs.hang_up(tenant, connection_id)
    except AcsError as exc:
        # The callee left meanwhile (CallNotActive...): CallDisconnected follows and ends it.
        log.info("reminder attempt %s: %s refused: %s", attempt.pk, action[0], exc)


def _speech(plan: ReminderPlan, contact: Contact, text: str) -> PlaySource:
    return PlaySource(
        kind="text", text=text, locale=contact.language or plan.language, voice_kind=plan.voice
    )


def _when(appointment: Appointment) -> str:
    contact = appointment.contact
    return speech.spoken_time(
        appointment.starts_at, contact_zone(contact), contact.language or appointment.plan.language
    )


def prompt_text(appointment: Appointment) -> str:
    contact = appointment.contact
    return appointment.plan.prompt_template.format(
        name=contact.name,
        when=_when(appointment),
        provider=appointment.provider or "your provider",
        location=appointment.location or "our office",
    )


def prompt_source(appointment: Appointment) -> PlaySource:
    """The menu prompt as the call speaks it (voice and language too), for previews."""
    return _speech(appointment.plan, appointment.contact, prompt_text(appointment))
