"""Out-of-call verbs, keyed by `serverCallId` (a call no app participant is in): add and
remove participants; and the simulated peer-to-peer call that makes such a call.
"""

from django.db import transaction
from django.utils import timezone

from callauto.errors import BadRequest, NotFound
from calls import events
from calls.call_verbs import dial, end_if_deserted, hang_up_leg
from calls.identifiers import Identifier
from calls.lookups import CallNotActive
from calls.media_verbs import cancel_for_participant
from calls.models import Call, CallConnection, Participant
from calls.participant_verbs import invite
from calls.transitions import transition
from tenants.models import Tenant

K = CallConnection.State
P = Participant.State
MAX_TARGETS = 20


def get_server_call(tenant: Tenant, server_call_id: str) -> Call:
    """The tenant's call by serverCallId, locked; NotFound for unknown or foreign ids."""
    if "\x00" in server_call_id:
        raise NotFound("No call with this serverCallId.", code="8522")
    call = (
        Call.objects.for_tenant(tenant)
        .select_for_update()
        .filter(server_call_id=server_call_id)
        .first()
    )
    if call is None:
        raise NotFound("No call with this serverCallId.", code="8522")
    if call.state != Call.State.CONNECTED:
        raise CallNotActive(f"The call is {call.state}; this action needs it connected.")
    return call


@transaction.atomic
def add_participant_out_of_call(
    tenant: Tenant,
    server_call_id: str,
    *,
    target: Identifier,
    callback_uri: str,
    source_caller_id: str | None = None,
    invitation_timeout: int | None = None,
    operation_context: str = "",
) -> Participant:
    """Invite someone into a call the app is not in; results and roster changes go to
    `callback_uri` (AddParticipantSucceeded/Failed, ParticipantsUpdated)."""
    call = get_server_call(tenant, server_call_id)
    Call.unscoped.filter(pk=call.pk).update(out_of_call_callback_uri=callback_uri)
    return invite(
        tenant,
        call,
        target,
        role=Participant.Role.ADDED,
        requested_by=None,
        source_caller_id=source_caller_id,
        invitation_timeout=invitation_timeout,
        operation_context=operation_context,
        operation_callback_uri=callback_uri,
    )


@transaction.atomic
def remove_participant_out_of_call(
    tenant: Tenant,
    server_call_id: str,
    *,
    target: Identifier,
    callback_uri: str,
    operation_context: str = "",
) -> None:
    """Drop someone from a call the app is not in; a call left with one person ends."""

    call = get_server_call(tenant, server_call_id)
    participant = (
        Participant.unscoped.select_for_update()
        .filter(call=call, raw_id=target.raw_id, state=P.CONNECTED)
        .first()
    )
    if participant is None:
        raise BadRequest(
            f"{target.raw_id} is not a participant of this call.", code="ParticipantNotFound"
        )
    Call.unscoped.filter(pk=call.pk).update(out_of_call_callback_uri=callback_uri)
    call.out_of_call_callback_uri = callback_uri
    transition(participant, P.DISCONNECTED, left_at=timezone.now())
    hang_up_leg(participant)
    events.emit_for_call(
        call,
        "RemoveParticipantSucceeded",
        callback_uri=callback_uri,
        operation_context=operation_context,
        participant=target.to_wire(),
        result_information=events.OK,
    )
    events.emit_participants_updated(call)
    if not end_if_deserted(call, message="Too few participants remained."):
        cancel_for_participant(participant)


@transaction.atomic
def simulate_p2p_call(tenant: Tenant, *, caller: Identifier, callee: Identifier) -> Call:
    """Simulated carrier: two of the tenant's endpoints call each other, no app involved.
    When the callee answers, the tenant hears of it as CallStarted (Event Grid)."""
    if caller.raw_id == callee.raw_id:
        raise BadRequest("A call needs two different endpoints.")
    call = Call.unscoped.create(
        tenant=tenant,
        direction=Call.Direction.PEER_TO_PEER,
        source_caller_id=caller.phone_number or "",
    )
    Participant.unscoped.create(
        tenant=tenant,
        call=call,
        kind=caller.kind,
        raw_id=caller.raw_id,
        role=Participant.Role.CALLER,
        state=P.CONNECTED,
        joined_at=timezone.now(),
    )
    callee_leg = Participant.unscoped.create(
        tenant=tenant,
        call=call,
        kind=callee.kind,
        raw_id=callee.raw_id,
        role=Participant.Role.TARGET,
        source_caller_id=caller.phone_number or "",
    )
    dial(callee_leg, caller.phone_number or "")
    return call
