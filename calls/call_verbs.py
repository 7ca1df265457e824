"""Call verbs: place, connect, hang up, terminate and end a call.

Each runs in one transaction: it checks the request against the current state (locking
the rows it changes), writes the new state, the CallEvents that describe it, and the
CarrierCommands the gateway must carry out. Errors are the API's own (callauto.errors),
so a refused action changes nothing.
"""

from django.db import connection as database
from django.db import transaction
from django.utils import timezone

from callauto.errors import AcsError, BadRequest, NotFound
from calls import events, live_calls, new_call_rows, nudge
from calls.identifiers import Identifier
from calls.lookups import CallNotActive, get_connection
from calls.media_verbs import cancel_for_call, cancel_for_connection
from calls.models import Call, CallConnection, CarrierCommand, Participant
from calls.transitions import transition, transition_numbered
from calls.verb_atomic import atomic_verb, atomic_writes
from tenants import audit
from tenants.models import PhoneNumber, Tenant

K = CallConnection.State
P = Participant.State
MAX_TARGETS = 20


class TooManyCalls(AcsError):
    status_code = 429
    default_code = "TooManyCalls"


def caller_id_for(tenant: Tenant, number: str | None, targets: list[Identifier]) -> str:
    if number and not PhoneNumber.objects.for_tenant(tenant).filter(e164=number).exists():
        raise _not_owned(number)
    return _required_caller_id(number, targets)


def _required_caller_id(number: str | None, targets: list[Identifier]) -> str:
    if not number and any(t.phone_number for t in targets):
        raise BadRequest("sourceCallerIdNumber is required to call a phone number.")
    return number or ""


def _not_owned(number: str) -> BadRequest:
    return BadRequest(
        f"sourceCallerIdNumber {number} is not one of this tenant's phone numbers.",
        code="InvalidSourceCallerId",
    )


def own_number(call: Call) -> str | None:
    """The tenant's number on this call: what it shows when it dials more people."""
    number = call.to_number if call.direction == Call.Direction.INBOUND else call.source_caller_id
    return number or None


def dial(participant: Participant, caller_id: str) -> None:
    dial_command(participant, caller_id).save()


def dial_command(participant: Participant, caller_id: str) -> CarrierCommand:
    return CarrierCommand(
        tenant_id=participant.tenant_id,
        call_id=participant.call_id,
        participant=participant,
        kind=CarrierCommand.Kind.DIAL,
        payload={
            "to": participant.raw_id,
            "caller_id": caller_id,
            "timeout": participant.invitation_timeout,
            "custom_context": participant.custom_context,
        },
    )


def hang_up_leg(participant: Participant) -> None:
    CarrierCommand.unscoped.create(
        tenant_id=participant.tenant_id,
        call_id=participant.call_id,
        participant=participant,
        kind=CarrierCommand.Kind.HANG_UP,
    )


def leg_command(participant: Participant, kind: str, **payload: object) -> None:
    CarrierCommand.unscoped.create(
        tenant_id=participant.tenant_id,
        call_id=participant.call_id,
        participant=participant,
        kind=kind,
        payload=payload,
    )


def _orm_create(call: Call, app: CallConnection, legs: list[Participant], caller_id: str) -> None:
    """create_call's writes on SQLite (development), a statement each."""
    tenant = call.tenant
    caller_id_for(tenant, caller_id, [])  # refused before any write
    call.takes_slot = True  # counted by take_slot below, not by the post_save receiver
    call.save(force_insert=True)
    app.call = call
    app.save(force_insert=True)
    for leg in legs:
        leg.call, leg.requested_by = call, app
    Participant.unscoped.bulk_create(legs)
    CarrierCommand.unscoped.bulk_create(dial_command(leg, caller_id) for leg in legs)
    if not live_calls.take_slot(tenant):
        raise _too_many(tenant)
    nudge.queue_nudge(CarrierCommand, created=True)  # bulk_create sends no post_save


def _too_many(tenant: Tenant) -> TooManyCalls:
    return TooManyCalls(
        f"This tenant may have {tenant.max_concurrent_calls} calls at once; wait for one to end."
    )


# No savepoint inside the API's repeatability transaction, which any refusal rolls back
# whole: a SAVEPOINT / RELEASE pair per call bought nothing there (issue 15).
@atomic_writes
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
    caller_id = _required_caller_id(source_caller_id, targets)
    call = Call(
        tenant=tenant,
        direction=Call.Direction.OUTBOUND,
        source_caller_id=caller_id,
        source_display_name=source_display_name,
    )
    connection = CallConnection(
        tenant=tenant, call=call, callback_uri=callback_uri, operation_context=operation_context
    )
    participants = [
        Participant(
            tenant=tenant,
            kind=target.kind,
            raw_id=target.raw_id,
            role=Participant.Role.TARGET,
            source_caller_id=caller_id,
        )
        for target in targets
    ]
    if database.vendor != "postgresql":
        _orm_create(call, connection, participants, caller_id)
    else:
        command_ids = new_call_rows.reserve_ids(call, connection, participants)
        commands = [dial_command(p, caller_id) for p in participants]
        for command, pk in zip(commands, command_ids, strict=True):
            command.pk = pk
        # The concurrent-call limit last: its counter row stays locked from this
        # statement to the commit, so one tenant's creates queue only for that.
        rows = [[call], [connection], participants, commands]
        slot_taken, owned = new_call_rows.write(tenant, caller_id, rows)
        if caller_id and not owned:
            raise _not_owned(caller_id)
        if not slot_taken and not live_calls.has_room_after_recount(tenant):
            raise _too_many(tenant)
    connection.targets = participants  # the response lists them without reading them back
    return connection


def end_call(
    call: Call,
    *,
    code: int,
    sub_code: int,
    message: str,
    connections: list[CallConnection] | None = None,
    participants: list[Participant] | None = None,
) -> None:
    """End the call for everyone: hang up every live leg, disconnect every connection.

    The caller holds the call's row lock and a transaction (terminate, remote hang-up,
    gateway reconciliation all end calls through here). `connections`: all of the
    call's, read already (states current, `call` set); `participants`: its invited and
    connected ones, read already with their rows locked.
    """

    cancel_for_call(call.pk)
    if participants is None:
        participants = list(
            Participant.unscoped.select_for_update().filter(
                call=call, state__in=[P.INVITED, P.CONNECTED]
            )
        )
    now = timezone.now()
    for participant in participants:
        gone = P.DISCONNECTED if participant.state == P.CONNECTED else P.CANCELLED
        transition(participant, gone, left_at=now)
        hang_up_leg(participant)
    info = events.result(code, sub_code, message)
    if connections is None:
        connections = list(CallConnection.unscoped.select_related("call").filter(call=call))
    for connection in connections:
        if connection.state != K.DISCONNECTED:
            sequence = transition_numbered(connection, K.DISCONNECTED)
            events.emit(
                connection, "CallDisconnected", result_information=info, event_sequence=sequence
            )
    if call.state != Call.State.DISCONNECTED:
        transition(
            call,
            Call.State.DISCONNECTED,
            ended_at=now,
            end_code=code,
            end_subcode=sub_code,
            end_message=message[:256],
        )


def end_if_deserted(
    call: Call, *, message: str, connections: list[CallConnection] | None = None
) -> bool:
    """End `call` (and say so with True) once nobody is left to talk to: no participant
    in it, or a single one and no application. As in ACS, a call with one party in it
    is over: the person who stays after the other hung up hears the call end.

    The caller holds the call's row lock and a transaction.
    """
    connected = Participant.unscoped.filter(call=call, state=P.CONNECTED).count()
    if connections is None:
        app_in_call = (
            CallConnection.unscoped.filter(call=call).exclude(state=K.DISCONNECTED).exists()
        )
    else:
        app_in_call = any(c.state != K.DISCONNECTED for c in connections)
    if connected == 0 or (connected == 1 and not app_in_call):
        end_call(call, code=200, sub_code=0, message=message, connections=connections)
        return True
    return False


@atomic_verb
def hang_up(tenant: Tenant, call_connection_id: str) -> None:
    """The application leaves the call. A call left with fewer than two people ends."""

    connection = get_connection(tenant, call_connection_id, lock_call=True)
    if connection.state == K.DISCONNECTED:
        raise CallNotActive("The call connection has already disconnected.")
    call = connection.call
    # Locked now (end_call would lock them): the count and the legs to hang up, one read.
    in_call = list(
        Participant.unscoped.select_for_update().filter(
            call=call, state__in=[P.INVITED, P.CONNECTED]
        )
    )
    if sum(p.state == P.CONNECTED for p in in_call) < 2:
        end_call(
            call, code=200, sub_code=0, message="The application hung up.", participants=in_call
        )
        return
    # The people stay; what the app was playing to them stops with it.
    cancel_for_connection(connection)
    sequence = transition_numbered(connection, K.DISCONNECTED)
    events.emit(
        connection,
        "CallDisconnected",
        result_information=events.result(200, 0, "The application left the call."),
        event_sequence=sequence,
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
    call = Call.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=call_id)
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
