"""The one way carrier events enter the engine: `ingest(event)`, idempotent on event id.

What a leg did on the network becomes state changes and CallEvents here: answered
legs connect the call (CallConnected) or complete an invitation; failed legs fail
the call (CreateCallFailed) or the invitation; a remote hang-up may end the call.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from calls import events
from calls.carrier import SIP_REASONS, CarrierEvent, LegOutcome
from calls.models import Call, CallConnection, CarrierEventReceipt, Participant
from calls.services import end_call
from calls.transitions import transition

K = CallConnection.State
P = Participant.State
R = Participant.Role


@transaction.atomic
def ingest(event: CarrierEvent) -> bool:
    """Apply one carrier event; return False when it was seen before or is moot."""
    try:
        with transaction.atomic():
            CarrierEventReceipt.objects.create(event_id=event.event_id)
    except IntegrityError:
        return False
    leg = Participant.unscoped.filter(leg_id=event.leg_id).values_list("call_id", flat=True)
    call_id = leg.first()
    if call_id is None:
        return False
    # Lock order everywhere: call, then its participants, then connections.
    call = Call.unscoped.select_for_update().get(pk=call_id)
    participant = Participant.unscoped.select_for_update().get(leg_id=event.leg_id)
    if not participant.is_live:
        return False  # e.g. the callee answered just as we cancelled the invitation
    if event.kind == LegOutcome.ANSWERED:
        _answered(call, participant)
    elif event.kind == LegOutcome.HUNG_UP:
        _hung_up(call, participant)
    else:
        _failed(call, participant, event.kind)
    return True


def _connection(participant: Participant) -> CallConnection | None:
    if participant.requested_by_id is None:
        return None
    return CallConnection.unscoped.select_related("call").get(pk=participant.requested_by_id)


def _answered(call: Call, participant: Participant) -> None:
    now = timezone.now()
    transition(participant, P.CONNECTED, joined_at=now)
    if call.state == Call.State.CONNECTING:
        transition(call, Call.State.CONNECTED, connected_at=now)
    connection = _connection(participant)
    if participant.role == R.TARGET and connection and connection.state == K.CONNECTING:
        transition(connection, K.CONNECTED)
        events.emit(
            connection,
            "CallConnected",
            operation_context=connection.operation_context,
            result_information=events.OK,
        )
    elif participant.role == R.ADDED and connection:
        events.emit(
            connection,
            "AddParticipantSucceeded",
            participant=participant.identifier.to_wire(),
            operation_context=participant.operation_context,
            result_information=events.OK,
            callback_uri=participant.operation_callback_uri or None,
        )
    events.emit_participants_updated(call)


def _failed(call: Call, participant: Participant, kind: str) -> None:
    code, message = SIP_REASONS.get(kind, SIP_REASONS[LegOutcome.FAILED])
    transition(participant, P.FAILED, left_at=timezone.now(), end_code=code, end_message=message)
    info = events.result(code, 0, message, sip_code=code)
    connection = _connection(participant)
    if connection is None:
        return
    if participant.role == R.ADDED:
        events.emit(
            connection,
            "AddParticipantFailed",
            participant=participant.identifier.to_wire(),
            operation_context=participant.operation_context,
            result_information=info,
            callback_uri=participant.operation_callback_uri or None,
        )
        return
    if participant.role == R.TARGET and connection.state == K.CONNECTING:
        still_ringing = Participant.unscoped.filter(call=call, role=R.TARGET, state=P.INVITED)
        if still_ringing.exists():
            return  # a group call connects if anyone answers
        transition(connection, K.DISCONNECTED)
        events.emit(
            connection,
            "CreateCallFailed",
            operation_context=connection.operation_context,
            result_information=info,
        )
        transition(
            call,
            Call.State.DISCONNECTED,
            ended_at=timezone.now(),
            end_code=code,
            end_subcode=0,
            end_message=message,
        )


def _hung_up(call: Call, participant: Participant) -> None:
    transition(participant, P.DISCONNECTED, left_at=timezone.now())
    events.emit_participants_updated(call)
    if not Participant.unscoped.filter(call=call, state=P.CONNECTED).exists():
        end_call(call, code=200, sub_code=0, message="The remote participant hung up.")
