"""Incoming calls: answer, redirect or reject one by its `incomingCallContext`, and the
simulated carrier's "someone rings our number".
"""

import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from callauto.errors import BadRequest
from calls import incoming
from calls.call_verbs import dial, leg_command
from calls.identifiers import Identifier
from calls.lookups import CallNotActive
from calls.models import Call, CallConnection, CarrierCommand, Participant
from calls.transitions import transition
from tenants import audit
from tenants.audit import Actor
from tenants.models import PhoneNumber, Tenant

K = CallConnection.State
P = Participant.State
MAX_TARGETS = 20
REJECT_SIP = {"none": 603, "busy": 486, "forbidden": 403}


@transaction.atomic
def simulate_incoming_call(
    tenant: Tenant,
    *,
    to_number: str,
    caller: Identifier,
    display_name: str = "",
    actor: Actor = None,
    custom_context: dict | None = None,
) -> CarrierCommand:
    """Have the simulated carrier ring one of the tenant's numbers from `caller`, bringing
    `custom_context` headers (IncomingCall's customContext) as a SIP trunk would.

    For tests, the portal and demos; a real carrier reports incoming calls by itself.
    Raises BadRequest if the number is not the tenant's.
    """
    if not PhoneNumber.objects.for_tenant(tenant).filter(e164=to_number).exists():
        raise BadRequest(f"{to_number} is not one of this tenant's phone numbers.")
    command = CarrierCommand.unscoped.create(
        tenant=tenant,
        kind=CarrierCommand.Kind.ORIGINATE,
        payload={
            "leg_id": str(uuid.uuid4()),
            "caller": caller.raw_id,
            "to": to_number,
            "display_name": display_name,
            "ring_timeout": settings.INCOMING_CALL_RING_TIMEOUT_SECONDS,
            "custom_context": custom_context or {},
        },
    )
    audit.record(
        tenant,
        actor=actor,
        action="incoming_call.simulate",
        target=command,
        after={"to": to_number, "from": caller.raw_id},
    )
    return command


def _claim_incoming(tenant: Tenant, context: str) -> tuple[Call, Participant]:
    """Lock the ringing call a context names and mark it handled, exactly once."""
    call = incoming.read_context(tenant, context)
    call = Call.unscoped.select_for_update(no_key=True).get(pk=call.pk)
    claimed = Call.unscoped.filter(
        pk=call.pk, handled_at__isnull=True, state=Call.State.CONNECTING
    ).update(handled_at=timezone.now())
    if not claimed:
        raise CallNotActive(
            "This incoming call was already answered, redirected or rejected, or has ended.",
            code="IncomingCallAlreadyHandled",
        )
    caller = Participant.unscoped.select_for_update(no_key=True).get(
        call=call, role=Participant.Role.CALLER
    )
    return call, caller


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
    dial(participant, caller_id)


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
