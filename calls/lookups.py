"""Finding a tenant's call connection or participant, and the errors that say it
cannot act. Shared by the call, participant and media verbs (so they need not import
each other)."""

from callauto.errors import AcsError, BadRequest, NotFound
from calls.identifiers import Identifier
from calls.models import CallConnection, Participant
from tenants.models import Tenant

K = CallConnection.State
P = Participant.State
MAX_TARGETS = 20


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
    rows = CallConnection.objects.for_tenant(tenant).select_related("call")
    if lock or lock_call:
        rows = rows.select_for_update(of=("self", "call") if lock_call else ("self",), no_key=True)
    # The id is unique: no .first(), whose ORDER BY costs more to compile than to run
    # on every API request (issue 15's profiles: the ORM's Python is most of a read).
    connection = next(iter(rows.filter(call_connection_id=call_connection_id)[:1]), None)
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
