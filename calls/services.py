"""Call Automation verbs: one function per API action.

Each runs in one transaction: it checks the request against the current state (locking
the rows it changes), writes the new state, the CallEvents that describe it, and the
CarrierCommands the gateway must carry out. Errors are the API's own (callauto.errors),
so a refused action changes nothing.
"""

import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callauto.errors import AcsError, BadRequest, NotFound
from calls import events, incoming, nudge
from calls.identifiers import Identifier
from calls.models import Call, CallConnection, CarrierCommand, Participant
from calls.transitions import transition
from tenants import audit
from tenants.models import PhoneNumber, Tenant

K = CallConnection.State
P = Participant.State
MAX_TARGETS = 20


class TooManyCalls(AcsError):
    status_code = 429
    default_code = "TooManyCalls"


class CallNotActive(AcsError):
    default_code = "CallNotActive"


def get_connection(
    tenant: Tenant, call_connection_id: str, *, lock: bool = False
) -> CallConnection:
    """The tenant's connection by id; another tenant's or an unknown id raises NotFound."""
    if "\x00" in call_connection_id:
        # PostgreSQL text cannot hold NUL, so no stored id has one; don't ask the database.
        raise NotFound("Call connection not found.", code="8522")
    rows = CallConnection.objects.for_tenant(tenant).select_related("call")
    if lock:
        rows = rows.select_for_update(of=("self",))
    connection = rows.filter(call_connection_id=call_connection_id).first()
    if connection is None:
        raise NotFound("Call connection not found.", code="8522")
    return connection


def _require_active(connection: CallConnection) -> None:
    if connection.state != K.CONNECTED:
        raise CallNotActive(
            f"The call connection is {connection.state}; this action needs it connected."
        )


def _caller_id(tenant: Tenant, number: str | None, targets: list[Identifier]) -> str:
    if number and not PhoneNumber.objects.for_tenant(tenant).filter(e164=number).exists():
        raise BadRequest(
            f"sourceCallerIdNumber {number} is not one of this tenant's phone numbers.",
            code="InvalidSourceCallerId",
        )
    if not number and any(t.phone_number for t in targets):
        raise BadRequest("sourceCallerIdNumber is required to call a phone number.")
    return number or ""


def _own_number(call: Call) -> str | None:
    """The tenant's number on this call: what it shows when it dials more people."""
    number = call.to_number if call.direction == Call.Direction.INBOUND else call.source_caller_id
    return number or None


def _dial(participant: Participant, caller_id: str) -> None:
    _dial_command(participant, caller_id).save()


def _dial_command(participant: Participant, caller_id: str) -> CarrierCommand:
    return CarrierCommand(
        tenant_id=participant.tenant_id,
        call_id=participant.call_id,
        participant=participant,
        kind=CarrierCommand.Kind.DIAL,
        payload={
            "to": participant.raw_id,
            "caller_id": caller_id,
            "timeout": participant.invitation_timeout,
        },
    )


def _hang_up_leg(participant: Participant) -> None:
    CarrierCommand.unscoped.create(
        tenant_id=participant.tenant_id,
        call_id=participant.call_id,
        participant=participant,
        kind=CarrierCommand.Kind.HANG_UP,
    )


@transaction.atomic
def create_call(
    tenant: Tenant,
    *,
    targets: list[Identifier],
    callback_uri: str,
    source_caller_id: str | None = None,
    source_display_name: str = "",
    operation_context: str = "",
) -> CallConnection:
    """Place a 1:1 call (one target) or a group call (several), with the app in it.

    Raises BadRequest for no or duplicate targets or a caller ID the tenant does not own,
    TooManyCalls past the tenant's concurrent-call limit.
    """
    if not targets:
        raise BadRequest("targets must name at least one participant.")
    if len(targets) > MAX_TARGETS:
        raise BadRequest(f"A call may dial at most {MAX_TARGETS} targets at once.")
    if len({t.raw_id for t in targets}) != len(targets):
        raise BadRequest("targets contains the same participant twice.")
    caller_id = _caller_id(tenant, source_caller_id, targets)
    # The tenant's row lock makes the limit check and the insert one step: two
    # simultaneous creates cannot both take the last free slot.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    live = Call.objects.for_tenant(tenant).exclude(state=Call.State.DISCONNECTED).count()
    if live >= tenant.max_concurrent_calls:
        raise TooManyCalls(
            f"This tenant may have {tenant.max_concurrent_calls} calls at once; "
            "wait for one to end."
        )
    call = Call.unscoped.create(
        tenant=tenant,
        direction=Call.Direction.OUTBOUND,
        source_caller_id=caller_id,
        source_display_name=source_display_name,
    )
    connection = CallConnection.unscoped.create(
        tenant=tenant, call=call, callback_uri=callback_uri, operation_context=operation_context
    )
    participants = Participant.unscoped.bulk_create(
        Participant(
            tenant=tenant,
            call=call,
            requested_by=connection,
            kind=target.kind,
            raw_id=target.raw_id,
            role=Participant.Role.TARGET,
            source_caller_id=caller_id,
        )
        for target in targets
    )
    CarrierCommand.unscoped.bulk_create(_dial_command(p, caller_id) for p in participants)
    nudge.queue_nudge(CarrierCommand, created=True)  # bulk_create sends no post_save
    connection.targets = participants  # the response lists them without reading them back
    return connection


def end_call(call: Call, *, code: int, sub_code: int, message: str) -> None:
    """End the call for everyone: hang up every live leg, disconnect every connection.

    The caller holds the call's row lock and a transaction (terminate, remote hang-up,
    gateway reconciliation all end calls through here).
    """
    from calls.media_services import cancel_for_call  # media builds on this module

    cancel_for_call(call.pk)
    now = timezone.now()
    for participant in Participant.unscoped.select_for_update().filter(
        call=call, state__in=[P.INVITED, P.CONNECTED]
    ):
        gone = P.DISCONNECTED if participant.state == P.CONNECTED else P.CANCELLED
        transition(participant, gone, left_at=now)
        _hang_up_leg(participant)
    info = events.result(code, sub_code, message)
    for connection in CallConnection.unscoped.select_related("call").filter(call=call):
        if connection.state != K.DISCONNECTED:
            transition(connection, K.DISCONNECTED)
            events.emit(connection, "CallDisconnected", result_information=info)
    if call.state != Call.State.DISCONNECTED:
        transition(
            call,
            Call.State.DISCONNECTED,
            ended_at=now,
            end_code=code,
            end_subcode=sub_code,
            end_message=message[:256],
        )


def end_if_deserted(call: Call, *, message: str) -> bool:
    """End `call` (and say so with True) once nobody is left to talk to: no participant
    in it, or a single one and no application. As in ACS, a call with one party in it
    is over: the person who stays after the other hung up hears the call end.

    The caller holds the call's row lock and a transaction.
    """
    connected = Participant.unscoped.filter(call=call, state=P.CONNECTED).count()
    app_in_call = CallConnection.unscoped.filter(call=call).exclude(state=K.DISCONNECTED).exists()
    if connected == 0 or (connected == 1 and not app_in_call):
        end_call(call, code=200, sub_code=0, message=message)
        return True
    return False


@transaction.atomic
def hang_up(tenant: Tenant, call_connection_id: str) -> None:
    """The application leaves the call. A call left with fewer than two people ends."""
    from calls.media_services import cancel_for_connection  # media builds on this module

    connection = get_connection(tenant, call_connection_id, lock=True)
    if connection.state == K.DISCONNECTED:
        raise CallNotActive("The call connection has already disconnected.")
    call = Call.unscoped.select_for_update().get(pk=connection.call_id)
    connection.call = call
    remaining = Participant.unscoped.filter(call=call, state=P.CONNECTED).count()
    if remaining < 2:
        end_call(call, code=200, sub_code=0, message="The application hung up.")
        return
    # The people stay; what the app was playing to them stops with it.
    cancel_for_connection(connection)
    transition(connection, K.DISCONNECTED)
    events.emit(
        connection,
        "CallDisconnected",
        result_information=events.result(200, 0, "The application left the call."),
    )


@transaction.atomic
def terminate(tenant: Tenant, call_connection_id: str) -> None:
    """End the call for everyone in it (the SDK's hang_up(is_for_everyone=True)).

    Raises NotFound for another tenant's connection, CallNotActive once it has left.
    """
    connection = get_connection(tenant, call_connection_id, lock=True)
    if connection.state == K.DISCONNECTED:
        raise CallNotActive("The call connection has already disconnected.")
    terminate_call(tenant, connection.call_id)


TERMINATED_BY_APP = "The call was terminated by the application."
TERMINATED_FROM_PORTAL = "The call was terminated from the portal."


@transaction.atomic
def terminate_call(
    tenant: Tenant, call_id: int, *, actor: object = None, message: str = TERMINATED_BY_APP
) -> Call:
    """End a call for everyone in it: every leg is hung up, every connection gets
    CallDisconnected. The one verb behind the API's terminate and the portal's
    Terminate button; a person's termination (`actor`) is audited.

    Raises Call.DoesNotExist for an unknown or another tenant's call, CallNotActive
    for a call that has already ended.
    """
    call = Call.objects.for_tenant(tenant).select_for_update().get(pk=call_id)
    if call.state == Call.State.DISCONNECTED:
        raise CallNotActive("The call has already ended.")
    before = call.state
    end_call(call, code=200, sub_code=0, message=message)
    if actor is not None:
        audit.record(
            tenant,
            actor=actor,
            action="call.terminate",
            target=call,
            before={"state": before},
            after={"state": call.state},
        )
    return call


def find_participant(connection: CallConnection, target: Identifier) -> Participant:
    participant = (
        Participant.unscoped.filter(call_id=connection.call_id, raw_id=target.raw_id)
        .exclude(state__in=[P.FAILED, P.CANCELLED, P.DISCONNECTED])
        .first()
    )
    if participant is None or participant.state != P.CONNECTED:
        raise BadRequest(
            f"{target.raw_id} is not a participant of this call.", code="ParticipantNotFound"
        )
    return participant


def _invite(
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
) -> Participant:
    """Dial `target` into `call`: refuses someone already in it or being invited, and a
    caller ID the tenant does not own. What add, out-of-call add and transfer share."""
    live = [P.INVITED, P.CONNECTED]
    if Participant.unscoped.filter(call=call, raw_id=target.raw_id, state__in=live).exists():
        raise BadRequest(
            f"{target.raw_id} is already in the call or being invited.",
            code="ParticipantAlreadyInCall",
        )
    caller_id = _caller_id(tenant, source_caller_id or _own_number(call), [target])
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
    )
    _dial(participant, caller_id)
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
) -> Participant:
    """Invite someone into a connected call. The result arrives as
    AddParticipantSucceeded or AddParticipantFailed; cancel with the invitation id."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    _require_active(connection)
    return _invite(
        tenant,
        connection.call,
        target,
        role=Participant.Role.ADDED,
        requested_by=connection,
        source_caller_id=source_caller_id,
        invitation_timeout=invitation_timeout,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
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
    _require_active(connection)
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
    _hang_up_leg(participant)
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
    from calls.media_services import cancel_for_participant  # media builds on this module

    connection = get_connection(tenant, call_connection_id, lock=True)
    _require_active(connection)
    participant = find_participant(connection, target)
    transition(participant, P.DISCONNECTED, left_at=timezone.now())
    _hang_up_leg(participant)
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
        call = Call.unscoped.select_for_update().get(pk=connection.call_id)
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
    _require_active(connection)
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

REJECT_SIP = {"none": 603, "busy": 486, "forbidden": 403}


@transaction.atomic
def simulate_incoming_call(
    tenant: Tenant, *, to_number: str, caller: Identifier, display_name: str = ""
) -> CarrierCommand:
    """Have the simulated carrier ring one of the tenant's numbers from `caller`.

    For tests, the portal and demos; a real carrier reports incoming calls by itself.
    Raises BadRequest if the number is not the tenant's.
    """
    if not PhoneNumber.objects.for_tenant(tenant).filter(e164=to_number).exists():
        raise BadRequest(f"{to_number} is not one of this tenant's phone numbers.")
    return CarrierCommand.unscoped.create(
        tenant=tenant,
        kind=CarrierCommand.Kind.ORIGINATE,
        payload={
            "leg_id": str(uuid.uuid4()),
            "caller": caller.raw_id,
            "to": to_number,
            "display_name": display_name,
            "ring_timeout": settings.INCOMING_CALL_RING_TIMEOUT_SECONDS,
        },
    )


def _claim_incoming(tenant: Tenant, context: str) -> tuple[Call, Participant]:
    """Lock the ringing call a context names and mark it handled, exactly once."""
    call = incoming.read_context(tenant, context)
    call = Call.unscoped.select_for_update().get(pk=call.pk)
    claimed = Call.unscoped.filter(
        pk=call.pk, handled_at__isnull=True, state=Call.State.CONNECTING
    ).update(handled_at=timezone.now())
    if not claimed:
        raise CallNotActive(
            "This incoming call was already answered, redirected or rejected, or has ended.",
            code="IncomingCallAlreadyHandled",
        )
    caller = Participant.unscoped.select_for_update().get(call=call, role=Participant.Role.CALLER)
    return call, caller


def leg_command(participant: Participant, kind: str, **payload: object) -> None:
    CarrierCommand.unscoped.create(
        tenant_id=participant.tenant_id,
        call_id=participant.call_id,
        participant=participant,
        kind=kind,
        payload=payload,
    )


@transaction.atomic
def answer_call(
    tenant: Tenant, *, incoming_call_context: str, callback_uri: str, operation_context: str = ""
) -> CallConnection:
    """Answer a ringing incoming call; CallConnected follows once the leg is up."""
    call, caller = _claim_incoming(tenant, incoming_call_context)
    connection = CallConnection.unscoped.create(
        tenant=tenant, call=call, callback_uri=callback_uri, operation_context=operation_context
    )
    Participant.unscoped.filter(pk=caller.pk).update(requested_by=connection)
    leg_command(caller, CarrierCommand.Kind.ANSWER)
    return connection


@transaction.atomic
def redirect_call(tenant: Tenant, *, incoming_call_context: str, target: Identifier) -> None:
    """Send a ringing incoming call to someone else; the app takes no part in it."""
    call, caller = _claim_incoming(tenant, incoming_call_context)
    if target.raw_id == caller.raw_id:
        raise BadRequest("A call cannot be redirected to its own caller.")
    caller_id = call.to_number if target.phone_number else ""
    participant = Participant.unscoped.create(
        tenant=tenant,
        call=call,
        kind=target.kind,
        raw_id=target.raw_id,
        role=Participant.Role.REDIRECT,
        source_caller_id=caller_id,
    )
    _dial(participant, caller_id)


@transaction.atomic
def reject_call(tenant: Tenant, *, incoming_call_context: str, reason: str = "none") -> None:
    """Refuse a ringing incoming call (busy, forbidden, or declined)."""
    if reason not in REJECT_SIP:
        raise BadRequest(f"callRejectReason must be one of {', '.join(REJECT_SIP)}.")
    call, caller = _claim_incoming(tenant, incoming_call_context)
    code = REJECT_SIP[reason]
    transition(caller, P.FAILED, left_at=timezone.now(), end_code=code, end_message=reason)
    leg_command(caller, CarrierCommand.Kind.REJECT, sip_code=code)
    transition(
        call,
        Call.State.DISCONNECTED,
        ended_at=timezone.now(),
        end_code=code,
        end_subcode=0,
        end_message=f"Rejected by the application ({reason}).",
    )


@transaction.atomic
def connect_call(
    tenant: Tenant, *, server_call_id: str, callback_uri: str, operation_context: str = ""
) -> CallConnection:
    """Join the app to an existing call of the tenant, by its serverCallId."""
    call = (
        Call.objects.for_tenant(tenant)
        .select_for_update()
        .filter(server_call_id=server_call_id)
        .first()
    )
    if call is None:
        raise NotFound("No call with this serverCallId.", code="8522")
    if call.state != Call.State.CONNECTED:
        raise CallNotActive(f"The call is {call.state}; only a connected call can be joined.")
    connection = CallConnection.unscoped.create(
        tenant=tenant, call=call, callback_uri=callback_uri, operation_context=operation_context
    )
    transition(connection, K.CONNECTED)
    events.emit(
        connection,
        "CallConnected",
        operation_context=operation_context,
        result_information=events.OK,
    )
    return connection


# --- Transfer -------------------------------------------------------------------------


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
) -> Participant:
    """Hand the call over to `target`: the app leaves once the target answers
    (CallTransferAccepted), or stays if it fails (CallTransferFailed).

    Without `transferee` the call must have exactly one other participant.
    """
    connection = get_connection(tenant, call_connection_id, lock=True)
    _require_active(connection)
    others = Participant.unscoped.filter(call_id=connection.call_id, state=P.CONNECTED)
    if transferee is not None:
        find_participant(connection, transferee)
    elif others.count() != 1:
        raise BadRequest("transferee is required when the call has more than one participant.")
    transition(connection, K.TRANSFERRING)  # rolled back if the invitation is refused
    return _invite(
        tenant,
        connection.call,
        target,
        role=Participant.Role.TRANSFER,
        requested_by=connection,
        source_caller_id=source_caller_id,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
    )


# --- Out-of-call operations (by serverCallId, no app participant) -----------------------


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
    return _invite(
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
    from calls.media_services import cancel_for_participant  # media builds on this module

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
    _hang_up_leg(participant)
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
    _dial(callee_leg, caller.phone_number or "")
    return call
