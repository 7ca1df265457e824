"""Finding a tenant's call connection or participant, and the errors that say it
cannot act. Shared by the call, participant and media verbs (so they need not import
each other)."""

from callauto.compiled import INT_MARKER, MARKER, Compiled
from callauto.errors import AcsError, BadRequest, NotFound
from calls.identifiers import Identifier
from calls.models import Call, CallConnection, Participant
from tenants.managers import TenantScopeError
from tenants.models import Tenant

K = CallConnection.State
P = Participant.State
MAX_TARGETS = 20

# The read of every call API request (get call, participants, each verb's look-up without
# a lock), compiled once per process: building it was most of a read's Python (issue 15).
# The id is unique: LIMIT 1 and no ORDER BY (.first()'s costs more to compile than to run).
CONNECTION_BY_ID = Compiled(
    lambda tenant_id, call_connection_id: CallConnection.unscoped.filter(
        tenant_id=tenant_id, call_connection_id=call_connection_id
    ).select_related("call")[:1],
    [CallConnection, Call],
    markers=(INT_MARKER, MARKER),
)


class CallNotActive(AcsError):
    default_code = "CallNotActive"


def get_connection(
    tenant: Tenant, call_connection_id: str, *, lock: bool = False, lock_call: bool = False
) -> CallConnection:
    """The tenant's connection by id; another tenant's or an unknown id raises NotFound.
    `lock` locks the connection's row, `lock_call` its call's too (in the same SELECT:
    a verb that changes the call saves a round trip)."""
    if "\x00" in call_connection_id:
        # PostgreSQL text cannot hold NUL, so no stored id has one; don't ask the database.
        raise NotFound("Call connection not found.", code="8522")
    if lock or lock_call:
        rows = CallConnection.objects.for_tenant(tenant).select_related("call")
        rows = rows.select_for_update(of=("self", "call") if lock_call else ("self",), no_key=True)
        # The id is unique: no .first(), whose ORDER BY costs more to compile than to run.
        connection = next(iter(rows.filter(call_connection_id=call_connection_id)[:1]), None)
    else:
        if tenant is None or tenant.pk is None:  # as for_tenant() refuses
            raise TenantScopeError("get_connection() needs a saved tenant")
        found = CONNECTION_BY_ID.rows(tenant.pk, call_connection_id)
        connection = found[0][0] if found else None
    if connection is None:
        raise NotFound("Call connection not found.", code="8522")
    return connection


def require_active(connection: CallConnection) -> None:
    if connection.state != K.CONNECTED:
        raise CallNotActive(
            f"The call connection is {connection.state}; this action needs it connected."
        )


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
