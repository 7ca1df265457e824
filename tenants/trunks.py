"""Trunk verbs: save (create or change), delete, bind numbers, and the gateway's status.

Each verb owns its transaction and audits what changed, never the password itself (only
that it changed). ValidationErrors carry a message per field name, for forms and the API.
"""

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from tenants import audit
from tenants.audit import Actor
from tenants.models import PhoneNumber, Tenant, Trunk
from tenants.phone import normalize_e164

# What a tenant sets on a trunk (the rest is the gateway's status or bookkeeping).
FIELDS = (
    "name", "enabled", "proxy_host", "proxy_port", "transport", "domain", "username",
    "register", "register_expires", "codecs", "max_concurrent_calls", "default_caller_id",
    "strip_plus", "inbound_prefix", "send_pai",
)  # fmt: skip
UNSET: Any = object()

# A DNS name or an IPv4 address: the host every out-of-dialog request is sent to.
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
HOST = re.compile(rf"^(?=.{{1,253}}$){LABEL}(?:\.{LABEL})*$")
CALLER_ID = re.compile(r"^\+?[0-9]{1,20}$")
PREFIX = re.compile(r"^\+?[0-9]{0,6}$")


def public_fields(trunk: Trunk) -> dict[str, Any]:
    """The trunk's settings as the audit log keeps them (no secret)."""
    values = {name: getattr(trunk, name) for name in FIELDS}
    values["has_password"] = bool(trunk.password_encrypted)
    return values


def _check(trunk: Trunk) -> None:
    errors: dict[str, list[str]] = {}
    try:
        trunk.full_clean(exclude=["tenant"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    for name, value in (("proxy_host", trunk.proxy_host), ("domain", trunk.domain)):
        if value and not HOST.match(value):
            errors.setdefault(name, []).append(f"{value!r} is not a host name or IPv4 address.")
    if trunk.default_caller_id and not CALLER_ID.match(trunk.default_caller_id):
        errors.setdefault("default_caller_id", []).append("Digits, with an optional leading +.")
    if not PREFIX.match(trunk.inbound_prefix):
        errors.setdefault("inbound_prefix", []).append("Up to 6 digits, with an optional +.")
    if trunk.register and not trunk.username:
        errors.setdefault("username", []).append("Registration needs a username.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_trunk(
    tenant: Tenant,
    *,
    actor: Actor,
    trunk: Trunk | None = None,
    password: str = UNSET,
    phone_numbers: list[str] | None = None,
    **fields: Any,
) -> Trunk:
    """Create a trunk (`trunk` None) or change one; `password` UNSET keeps it, "" clears it.

    `phone_numbers` (E.164 strings the tenant owns), when given, become exactly the
    numbers bound to the trunk. Raises ValidationError with a message per field.
    """
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"not trunk settings: {sorted(unknown)}")
    creating = trunk is None
    if creating:
        trunk = Trunk(tenant=tenant)
        before = None
    else:
        trunk = Trunk.objects.for_tenant(tenant).select_for_update().get(pk=trunk.pk)
        before = public_fields(trunk)
    for name, value in fields.items():
        setattr(trunk, name, value)
    if password is not UNSET:
        if len(password) > 128:
            raise ValidationError({"password": ["At most 128 characters."]})
        trunk.password = password
    _check(trunk)
    if Trunk.objects.for_tenant(tenant).filter(name=trunk.name).exclude(pk=trunk.pk).exists():
        raise ValidationError({"name": [f"A trunk named {trunk.name!r} exists already."]})
    if creating and trunk.register:
        trunk.registration_state = Trunk.Registration.PENDING
    elif not trunk.register:
        trunk.registration_state = Trunk.Registration.OFF
    try:
        with transaction.atomic():
            trunk.save()
    except IntegrityError:  # the same name saved concurrently
        raise ValidationError({"name": [f"A trunk named {trunk.name!r} exists already."]}) from None
    after = public_fields(trunk)
    if creating:
        audit.record(tenant, actor=actor, action="trunk.create", target=trunk, after=after)
    else:
        changed = {k for k in after if before[k] != after[k]}
        if password is not UNSET and password:
            changed.add("password")  # a new password: say so, never what it is
        if changed:
            audit.record(
                tenant,
                actor=actor,
                action="trunk.update",
                target=trunk,
                before={k: before.get(k) for k in changed if k != "password"},
                after={k: after.get(k, "changed") for k in changed},
            )
    if phone_numbers is not None:
        bind_numbers(tenant, trunk, phone_numbers, actor=actor)
    return trunk


@transaction.atomic
def bind_numbers(tenant: Tenant, trunk: Trunk, e164s: list[str], *, actor: Actor) -> None:
    """Make `e164s` exactly the tenant's numbers on `trunk`: those are bound to it, the
    others it had go back to the simulated carrier. Raises ValidationError for a number
    the tenant does not own."""
    mine = PhoneNumber.objects.for_tenant(tenant)
    try:
        wanted = {normalize_e164(e164) for e164 in e164s}
    except ValidationError as exc:
        raise ValidationError({"phone_numbers": exc.messages}) from None
    found = set(mine.filter(e164__in=wanted).values_list("e164", flat=True))
    missing = sorted(wanted - found)
    if missing:
        raise ValidationError({"phone_numbers": [f"Not your number: {', '.join(missing)}."]})
    before = sorted(mine.filter(trunk=trunk).values_list("e164", flat=True))
    mine.filter(trunk=trunk).exclude(e164__in=wanted).update(trunk=None)
    mine.filter(e164__in=wanted).update(trunk=trunk)
    if before != sorted(wanted):
        audit.record(
            tenant,
            actor=actor,
            action="trunk.numbers",
            target=trunk,
            before={"phone_numbers": before},
            after={"phone_numbers": sorted(wanted)},
        )


@transaction.atomic
def set_number_trunk(tenant: Tenant, phone_id: int, trunk_id: int | None, *, actor: Actor) -> None:
    """Bind one number to a trunk of the tenant, or (None) to the simulated carrier.
    Raises PhoneNumber.DoesNotExist / Trunk.DoesNotExist for another tenant's ids."""
    phone = PhoneNumber.objects.for_tenant(tenant).select_for_update().get(pk=phone_id)
    trunk = Trunk.objects.for_tenant(tenant).get(pk=trunk_id) if trunk_id else None
    if phone.trunk_id == (trunk.pk if trunk else None):
        return
    before = str(phone.trunk) if phone.trunk_id else "simulated"
    phone.trunk = trunk
    phone.save(update_fields=["trunk"])
    audit.record(
        tenant,
        actor=actor,
        action="phone_number.carrier",
        target=phone,
        before={"carrier": before},
        after={"carrier": str(trunk) if trunk else "simulated"},
    )


@transaction.atomic
def delete_trunk(tenant: Tenant, trunk_id: int, *, actor: Actor) -> None:
    """Delete a trunk. Raises Trunk.DoesNotExist for another tenant's trunk and
    ValidationError while numbers are still bound to it."""
    trunk = Trunk.objects.for_tenant(tenant).select_for_update().get(pk=trunk_id)
    # Audited first, while the row has its id; a refusal rolls the entry back with it.
    audit.record(
        tenant, actor=actor, action="trunk.delete", target=trunk, before=public_fields(trunk)
    )
    try:
        with transaction.atomic():
            trunk.delete()
    except ProtectedError as exc:
        numbers = ", ".join(sorted(str(obj) for obj in exc.protected_objects))
        raise ValidationError(f"Numbers still use this trunk: {numbers}.") from None


def request_ping(tenant: Tenant, trunk_id: int) -> bool:
    """Ask the gateway carrying the trunk to ping it now (its answer replaces the status
    within a second or two). False if the tenant has no such trunk. Not audited: it
    changes nothing but when the next observation is made."""
    asked = Trunk.objects.for_tenant(tenant).filter(pk=trunk_id)
    return bool(asked.update(ping_requested_at=timezone.now()))


def record_status(
    trunk_id: int,
    *,
    gateway_id: str,
    at: datetime,
    ping_status: int | None,
    ping_rtt_ms: float | None,
    registration_state: str,
    registration_status: int | None,
) -> None:
    """The gateway's latest view of a trunk (OPTIONS ping, registration). Not audited:
    it is an observation, written every minute or so."""
    Trunk.unscoped.filter(pk=trunk_id).update(
        ping_status=ping_status,
        ping_rtt_ms=ping_rtt_ms,
        registration_state=registration_state,
        registration_status=registration_status,
        status_gateway=gateway_id,
        status_at=at,
    )


def record_ping(trunk_id: int, *, gateway_id: str, at: datetime, status: int | None,
                rtt_ms: float | None) -> None:  # fmt: skip
    """The answer to a requested ping: the status now, and the request done."""
    Trunk.unscoped.filter(pk=trunk_id).update(
        ping_status=status, ping_rtt_ms=rtt_ms, status_gateway=gateway_id, status_at=at,
        ping_requested_at=None,
    )  # fmt: skip
