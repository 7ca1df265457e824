"""The one way carrier events enter the engine: `ingest(event)`, idempotent on event id.

What a leg did on the network becomes state changes and CallEvents here: answered
legs connect the call (CallConnected) or complete an invitation; failed legs fail
the call (CreateCallFailed) or the invitation; a remote hang-up may end the call.
"""

import logging
from collections.abc import Callable

from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from callauto.errors import BadRequest, NotSupported
from calls import events
from calls.call_verbs import end_call, end_if_deserted
from calls.custom_context import incoming_custom_context
from calls.identifiers import (
    ANONYMOUS,
    PHONE_NUMBER,
    PHONE_PREFIX,
    Identifier,
    parse_raw_id,
)
from calls.incoming import make_context
from calls.leg_results import leg_result
from calls.media_verbs import (
    apply_media_event,
    cancel_for_connection,
    cancel_for_participant,
    report_tone,
)
from calls.models import Call, CallConnection, CarrierCommand, CarrierEventReceipt, Participant
from calls.streaming_verbs import apply_stream_event
from calls.transitions import transition
from calls.trunk_fleet import trunk_of
from carrier.interface import CarrierEvent, LegOutcome, MediaOutcome
from tenants.models import PhoneNumber
from webhooks import grid

log = logging.getLogger(__name__)

# Handlers other apps register for carrier event kinds the engine does not own (the
# recordings app's recording events), so calls/ needs no import of them.
_handlers: dict[str, Callable[[CarrierEvent], bool]] = {}


def register_handler(kind: str, handler: Callable[[CarrierEvent], bool]) -> None:
    _handlers[kind] = handler


K = CallConnection.State
P = Participant.State
R = Participant.Role


@transaction.atomic
def ingest(event: CarrierEvent, *, gateway_id: str = "") -> bool:
    """Apply one carrier event; return False when it was seen before or is moot.

    `gateway_id` names the gateway reporting it: a call that starts here (an incoming
    one) is owned by that gateway.
    """
    if not _first_receipt(event.event_id):
        return False
    return apply(event, gateway_id=gateway_id)


def apply(event: CarrierEvent, *, gateway_id: str = "") -> bool:
    """`ingest` once the event's receipt is recorded, with no savepoint of its own: the
    gateway's batch applies many this way in one transaction (`first_receipts`), and if
    one fails it undoes the whole batch and ingests it again event by event."""
    if event.kind in _handlers:
        return _handlers[event.kind](event)
    if event.kind == LegOutcome.INCOMING:
        return _incoming(event, gateway_id)
    if "stream" in event.detail:
        return apply_stream_event(event)
    if "op" in event.detail:
        return apply_media_event(event)
    # Lock order everywhere: call, then its participants, then connections. The leg's
    # call is found and locked in one statement.
    leg = Participant.unscoped.filter(leg_id=event.leg_id).values("call_id")[:1]
    call = Call.unscoped.select_for_update(no_key=True).filter(pk=Subquery(leg)).first()
    if call is None:
        return False
    participant = Participant.unscoped.select_for_update(no_key=True).get(leg_id=event.leg_id)
    if event.kind == LegOutcome.CLOSED:
        _keep_sip_details(participant, event.detail)
        return True
    if not participant.is_live:
        return False  # e.g. the callee answered just as we cancelled the invitation
    if event.kind in LegOutcome.ENDS:
        _keep_sip_details(participant, event.detail)
    if event.kind == MediaOutcome.TONE:
        report_tone(participant, event.detail["key"])
    elif event.kind == LegOutcome.ANSWERED:
        if event.detail.get("dialog"):
            Participant.unscoped.filter(pk=participant.pk).update(sip_dialog=event.detail["dialog"])
        _answered(call, participant)
    elif event.kind == LegOutcome.HUNG_UP:
        _hung_up(call, participant)
    else:
        _failed(call, participant, event.kind, event.detail)
    return True


def _first_receipt(event_id: str) -> bool:
    """Record the event id; False if it was recorded before (a redelivery). One statement:
    a savepoint around an INSERT that may fail would cost two more round trips."""
    table = connection.ops.quote_name(CarrierEventReceipt._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, received_at) VALUES (%s, %s)"
            " ON CONFLICT (event_id) DO NOTHING",
            [event_id, timezone.now()],
        )
        return cursor.rowcount == 1


def first_receipts(event_ids: list[str]) -> set[str]:
    """Record a batch's event ids in one statement; return those not recorded before."""
    if not event_ids:
        return set()
    table = connection.ops.quote_name(CarrierEventReceipt._meta.db_table)
    now = timezone.now()
    values = ", ".join(["(%s, %s)"] * len(event_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, received_at) VALUES {values}"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            [item for event_id in event_ids for item in (event_id, now)],
        )
        return {row[0] for row in cursor.fetchall()}


def forget_receipts(event_ids: set[str]) -> None:
    """Take back receipts `first_receipts` recorded for events the batch left for later."""
    CarrierEventReceipt.objects.filter(event_id__in=event_ids).delete()


def _keep_sip_details(participant: Participant, detail: dict) -> None:
    """A SIP leg's final answer, media quality and trace stay with the call."""
    fields = {
        "sip_code": detail.get("sip_code") if isinstance(detail.get("sip_code"), int) else None,
        "media_quality": detail.get("quality"),
        "sip_trace": detail.get("sip_trace"),
    }
    fields = {name: value for name, value in fields.items() if value is not None}
    if fields:
        Participant.unscoped.filter(pk=participant.pk).update(**fields)


def _connection(participant: Participant) -> CallConnection | None:
    if participant.requested_by_id is None:
        return None
    return CallConnection.unscoped.select_related("call").get(pk=participant.requested_by_id)


def _incoming(event: CarrierEvent, gateway_id: str) -> bool:
    """Someone rings a number: make the call and tell the number's tenant (IncomingCall)."""
    number = PhoneNumber.unscoped.select_related("tenant").filter(e164=event.detail["to"]).first()
    if number is None or not number.tenant.is_active:
        log.info("incoming call to %s: no active tenant owns it; it rings out", event.detail["to"])
        return False
    # A trunk delivers calls only to the numbers bound to it (no tenant reaches another's).
    trunk_id = trunk_of(event.detail.get("route", ""))
    if trunk_id is not None and number.trunk_id != trunk_id:
        log.warning("incoming call to %s on trunk %s, which the number is not bound to; "
                    "it rings out", number.e164, trunk_id)  # fmt: skip
        return False
    tenant = number.tenant
    try:
        caller = parse_raw_id(event.detail["from"], "from")
    except (BadRequest, NotSupported):
        # A SIP caller whose user is not a number ("sip:alice@pbx"): anonymous, as in ACS.
        caller = Identifier(PHONE_NUMBER, PHONE_PREFIX + ANONYMOUS)
    call = Call.unscoped.create(
        tenant=tenant,
        direction=Call.Direction.INBOUND,
        to_number=number.e164,
        source_caller_id=caller.phone_number or "",
        source_display_name=event.detail.get("display_name", "")[:256],
    )
    Participant.unscoped.create(
        tenant=tenant,
        call=call,
        kind=caller.kind,
        raw_id=caller.raw_id,
        role=R.CALLER,
        leg_id=event.leg_id,
        trunk_id=trunk_id,
        custom_context=event.detail.get("custom_context") or {},
    )
    data = {
        "to": Identifier.phone(number.e164).to_wire(),
        "from": caller.to_wire(),
        "serverCallId": call.server_call_id,
        "callerDisplayName": call.source_display_name,
        "incomingCallContext": make_context(call),
        "correlationId": str(call.correlation_id),
        "customContext": incoming_custom_context(event.detail.get("custom_context") or {}),
    }
    subject = f"/caller/{caller.raw_id}/recipient/4:{number.e164}"
    grid.publish(tenant, "Microsoft.Communication.IncomingCall", subject, data)
    return True


def _answered(call: Call, participant: Participant) -> None:
    now = timezone.now()
    transition(participant, P.CONNECTED, joined_at=now)
    if call.state == Call.State.CONNECTING:
        transition(call, Call.State.CONNECTED, connected_at=now)
        if call.direction == Call.Direction.PEER_TO_PEER:
            _call_started(call)
    connections = _connections(call)  # read once: the requester's, and the roster's
    connection = next((c for c in connections if c.pk == participant.requested_by_id), None)
    if participant.role == R.REDIRECT:
        # The redirect target picked up: now connect the waiting caller to them.
        caller = Participant.unscoped.filter(call=call, role=R.CALLER, state=P.INVITED).first()
        if caller is not None:
            CarrierCommand.unscoped.create(
                tenant_id=call.tenant_id,
                call=call,
                participant=caller,
                kind=CarrierCommand.Kind.ANSWER,
            )
    elif participant.role == R.TRANSFER and connection:
        _transfer_accepted(connection, participant)
        return
    if participant.role in (R.TARGET, R.CALLER) and connection and connection.state == K.CONNECTING:
        transition(connection, K.CONNECTED)
        events.emit(
            connection,
            "CallConnected",
            operation_context=connection.operation_context,
            result_information=events.OK,
        )
    elif participant.role == R.ADDED and connection is None and participant.operation_callback_uri:
        events.emit_for_call(
            call,
            "AddParticipantSucceeded",
            callback_uri=participant.operation_callback_uri,
            operation_context=participant.operation_context,
            result_information=events.OK,
            participant=participant.identifier.to_wire(),
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
    events.emit_participants_updated(call, connections=connections)


def _connections(call: Call) -> list[CallConnection]:
    """The call's connections, each with `call` set to the (locked) instance given."""
    connections = list(CallConnection.unscoped.filter(call=call).order_by("pk"))
    for connection_ in connections:
        connection_.call = call
    return connections


def _call_started(call: Call) -> None:
    """A peer-to-peer call is up: tell the tenant its serverCallId (Event Grid)."""
    participants = Participant.unscoped.filter(call=call).order_by("pk")
    data = {
        "serverCallId": call.server_call_id,
        "correlationId": str(call.correlation_id),
        "participants": [p.identifier.to_wire() for p in participants],
    }
    grid.publish(call.tenant, "Microsoft.Communication.CallStarted",
                 f"/serverCall/{call.server_call_id}", data)  # fmt: skip


def _transfer_accepted(connection: CallConnection, target: Participant) -> None:
    """The transfer target answered: the app's part in the call is over."""
    transferee = (
        Participant.unscoped.filter(call_id=connection.call_id, state=P.CONNECTED)
        .exclude(pk=target.pk)
        .order_by("joined_at")
        .first()
    )
    extra = {"transferTarget": target.identifier.to_wire()}
    if transferee is not None:
        extra["transferee"] = transferee.identifier.to_wire()
    transition(connection, K.TRANSFER_ACCEPTED)
    events.emit(
        connection,
        "CallTransferAccepted",
        operation_context=target.operation_context,
        result_information=events.OK,
        callback_uri=target.operation_callback_uri or None,
        **extra,
    )
    # The app is out of the call: what it was still playing (hold music) stops.
    cancel_for_connection(connection)
    transition(connection, K.DISCONNECTED)
    events.emit(
        connection,
        "CallDisconnected",
        result_information=events.result(200, 0, "The call was transferred."),
    )
    events.emit_participants_updated(connection.call)


def _failed(call: Call, participant: Participant, kind: str, detail: dict) -> None:
    code, message, sip_code = leg_result(kind, detail)
    transition(participant, P.FAILED, left_at=timezone.now(), end_code=code, end_message=message)
    info = events.result(code, 0, message, sip_code=sip_code)
    if participant.role in (R.CALLER, R.REDIRECT) and call.state == Call.State.CONNECTING:
        # The caller gave up ringing (perhaps just as the app answered), or the redirect
        # target did not take the call.
        answering = _connection(participant) if participant.role == R.CALLER else None
        if answering is not None and answering.state == K.CONNECTING:
            transition(answering, K.DISCONNECTED)
            events.emit(answering, "AnswerFailed", operation_context=answering.operation_context,
                        result_information=info)  # fmt: skip
        end_call(call, code=code, sub_code=0, message=message)
        return
    connection = _connection(participant)
    if connection is None:
        if participant.role == R.ADDED and participant.operation_callback_uri:
            events.emit_for_call(
                call,
                "AddParticipantFailed",
                callback_uri=participant.operation_callback_uri,
                operation_context=participant.operation_context,
                result_information=info,
                participant=participant.identifier.to_wire(),
            )
        return
    if participant.role == R.TRANSFER:
        if connection.state == K.TRANSFERRING:
            transition(connection, K.CONNECTED)
        events.emit(
            connection,
            "CallTransferFailed",
            operation_context=participant.operation_context,
            result_information=info,
            callback_uri=participant.operation_callback_uri or None,
        )
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
    connections = _connections(call)
    events.emit_participants_updated(call, connections=connections)
    # Whoever is left alone (after a transfer the app has left) hears the call end, and
    # CallDisconnected says it all; otherwise what was for them alone is canceled.
    message = "The remote participant hung up."
    if not end_if_deserted(call, message=message, connections=connections):
        cancel_for_participant(participant)
