"""The `incomingCallContext` round trip: a signed, expiring token naming the call.

We mint it when a call rings a tenant number and accept it back on answer / redirect /
reject. It is Django-signed (tamper-evident) and timestamped (expires with the ringing),
and it names the tenant, so another tenant's context is unknown to everyone else.
"""

from django.conf import settings
from django.core import signing

from callauto.errors import AcsError, BadRequest, NotFound
from calls.models import Call
from tenants.models import Tenant

SALT = "calls.incoming-call-context"


class ContextExpired(AcsError):
    default_code = "IncomingCallContextExpired"
    default_detail = "The incoming call context has expired."


def make_context(call: Call) -> str:
    return signing.dumps({"c": call.server_call_id, "t": call.tenant_id}, salt=SALT)


def read_context(tenant: Tenant, value: str) -> Call:
    """The call a context names. BadRequest if forged, ContextExpired if too old,
    NotFound if it belongs to another tenant or the call is gone."""
    max_age = settings.INCOMING_CALL_RING_TIMEOUT_SECONDS + 10
    try:
        payload = signing.loads(value, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise ContextExpired() from None
    except signing.BadSignature:
        raise BadRequest(
            "incomingCallContext is not a context this service issued.",
            code="InvalidIncomingCallContext",
        ) from None
    if payload.get("t") != tenant.pk:
        raise NotFound("No such incoming call.", code="8522")
    call = Call.objects.for_tenant(tenant).filter(server_call_id=payload.get("c")).first()
    if call is None:
        raise NotFound("No such incoming call.", code="8522")
    return call
