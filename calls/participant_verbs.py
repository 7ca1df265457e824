"""Participant verbs of a call the app is in: add (and cancel adding), remove, mute,
transfer. Same shape as calls.call_verbs: one transaction each, refusals change nothing.
"""

from django.db import transaction
from django.utils import timezone

from callauto.errors import BadRequest, NotFound
from calls import events
from calls.call_verbs import caller_id_for, dial, end_call, hang_up_leg, own_number
from calls.identifiers import Identifier
from calls.lookups import find_participant, get_connection, require_active
from calls.media_verbs import cancel_for_participant
from calls.models import Call, CallConnection, CarrierCommand, Participant
from calls.transitions import transition
from tenants.models import Tenant

K = CallConnection.State
P = Participant.State
MAX_TARGETS = 20


def invite(
    tenant: Tenant,
    call: Call,
    target: Identifier,
    *,
    role: str,
    requested_by: CallConnection | None,
    source_caller_id: str | None,
    invitation_timeout: int | None = None,
    operation_context: str = "",
    operation_callback_uri: str = "",
    custom_context: dict | None = None,
) -> Participant:
    """Dial `target` into `call`: refuses someone already in it or being invited, and a
    caller ID the tenant does not own. What add, out-of-call add and transfer share."""
    live = [P.INVITED, P.CONNECTED]
    if Participant.unscoped.filter(call=call, raw_id=target.raw_id, state__in=live).exists():
        raise BadRequest(
            f"{target.raw_id} is already in the call or being invited.",
            code="ParticipantAlreadyInCall",
        )
    caller_id = caller_id_for(tenant, source_caller_id or own_number(call), [target])
    participant = Participant.unscoped.create(
        tenant=tenant,
        call=call,
        requested_by=requested_by,
        kind=target.kind,
        raw_id=target.raw_id,
        role=role,
        source_caller_id=caller_id,
        invitation_timeout=invitation_timeout or 60,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
        custom_context=custom_context or {},
    )
    dial(participant, caller_id)
    return participant


@transaction.atomic
def add_participant(
    tenant: Tenant,
    call_connection_id: str,
    *,
    target: Identifier,
    source_caller_id: str | None = None,
    invitation_timeout: int | None = None,
    operation_context: str = "",
    operation_callback_uri: str = "",
    custom_context: dict | None = None,
) -> Participant:
    """Invite someone into a connected call. The result arrives as
    AddParticipantSucceeded or AddParticipantFailed; cancel with the invitation id."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    return invite(
        tenant,
        connection.call,
        target,
        role=Participant.Role.ADDED,
        requested_by=connection,
        source_caller_id=source_caller_id,
        invitation_timeout=invitation_timeout,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
        custom_context=custom_context,
    )


@transaction.atomic
def cancel_add_participant(
    tenant: Tenant,
    call_connection_id: str,
    *,
    invitation_id: str,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    """Withdraw a pending invitation: CancelAddParticipantSucceeded, or ...Failed when
    the invitee already answered or the invitation had already ended."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    participant = (
        Participant.unscoped.select_for_update()
        .filter(
            call_id=connection.call_id, invitation_id=invitation_id, role=Participant.Role.ADDED
        )
        .first()
    )
    if participant is None:
        raise NotFound(f"No invitation {invitation_id} in this call.", code="InvitationNotFound")
    ctx = {"operation_context": operation_context, "callback_uri": operation_callback_uri or None}
    if participant.state != P.INVITED:
        events.emit(
            connection,
            "CancelAddParticipantFailed",
            invitationId=invitation_id,
            result_information=events.result(400, 8523, "The invitation is no longer pending."),
            **ctx,
        )
        return
    transition(participant, P.CANCELLED, left_at=timezone.now())
    hang_up_leg(participant)
    events.emit(
        connection,
        "CancelAddParticipantSucceeded",
        invitationId=invitation_id,
        result_information=events.OK,
        **ctx,
    )


@transaction.atomic
def remove_participant(
    tenant: Tenant,
    call_connection_id: str,
    *,
    target: Identifier,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    """Drop someone from the call; a call left with nobody else in it ends."""

    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    participant = find_participant(connection, target)
    transition(participant, P.DISCONNECTED, left_at=timezone.now())
    hang_up_leg(participant)
    events.emit(
        connection,
        "RemoveParticipantSucceeded",
        participant=target.to_wire(),
        operation_context=operation_context,
        callback_uri=operation_callback_uri or None,
        result_information=events.OK,
    )
    events.emit_participants_updated(connection.call)
    if not Participant.unscoped.filter(call_id=connection.call_id, state=P.CONNECTED).exists():
        call = Call.unscoped.select_for_update(no_key=True).get(pk=connection.call_id)
        end_call(call, code=200, sub_code=0, message="The last participant was removed.")
        return
    # What was playing to them, listening to them or sending them tones ends with them.
    cancel_for_participant(participant)


@transaction.atomic
def mute_participant(
    tenant: Tenant, call_connection_id: str, *, target: Identifier, operation_context: str = ""
) -> None:
    """Mute a participant (ACS has no unmute for others: they unmute themselves)."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    participant = find_participant(connection, target)
    if participant.is_muted:
        return
    Participant.unscoped.filter(pk=participant.pk).update(is_muted=True)
    CarrierCommand.unscoped.create(
        tenant=tenant,
        call_id=participant.call_id,
        participant=participant,
        kind=CarrierCommand.Kind.MUTE,
        payload={"muted": True},
    )
    events.emit_participants_updated(connection.call)


# --- Incoming calls -------------------------------------------------------------------


@transaction.atomic
def transfer_to_participant(
    tenant: Tenant,
    call_connection_id: str,
    *,
    target: Identifier,
    transferee: Identifier | None = None,
    source_caller_id: str | None = None,
    operation_context: str = "",
    operation_callback_uri: str = "",
    custom_context: dict | None = None,
) -> Participant:
    """Hand the call over to `target`: the app leaves once the target answers
    (CallTransferAccepted), or stays if it fails (CallTransferFailed).

    Without `transferee` the call must have exactly one other participant.
    """
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    others = Participant.unscoped.filter(call_id=connection.call_id, state=P.CONNECTED)
    if transferee is not None:
        find_participant(connection, transferee)
    elif others.count() != 1:
        raise BadRequest("transferee is required when the call has more than one participant.")
    transition(connection, K.TRANSFERRING)  # rolled back if the invitation is refused
    return invite(
        tenant,
        connection.call,
        target,
        role=Participant.Role.TRANSFER,
        requested_by=connection,
        source_caller_id=source_caller_id,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
        custom_context=custom_context,
    )
