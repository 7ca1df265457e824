"""Tenant verbs. Each owns its transaction and writes one audit entry per change."""

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from tenants import audit
from tenants.audit import Actor
from tenants.models import AccessKey, Membership, PhoneNumber, RatePlan, Tenant
from tenants.permissions import KEY_ROLES, outranks
from tenants.phone import normalize_e164

# The longest a regenerated key's old secret may keep working.
MAX_KEY_GRACE = timedelta(days=7)

Role = Membership.Role


@transaction.atomic
def create_tenant(
    name: str,
    slug: str,
    *,
    actor: Actor,
    owner: AbstractBaseUser | None = None,
    time_zone: str = "UTC",
    rate_plan: RatePlan | None = None,
) -> Tenant:
    """Create a tenant with both access keys and, if given, its first owner."""
    tenant = Tenant(
        name=name, slug=slug, time_zone=time_zone, rate_plan=rate_plan or RatePlan.default()
    )
    tenant.full_clean()
    tenant.save()
    for key_name in AccessKey.Name.values:
        key = AccessKey(tenant=tenant, name=key_name)
        key.secret = AccessKey.generate_secret()
        key.save()
    audit.record(tenant, actor=actor, action="tenant.create", target=tenant, after={"slug": slug})
    if owner is not None:
        membership = Membership.unscoped.create(tenant=tenant, user=owner, role=Role.OWNER)
        audit.record(
            tenant, actor=actor, action="member.add", target=membership, after={"role": "owner"}
        )
    return tenant


@transaction.atomic
def set_tenant_status(tenant: Tenant, status: str, *, actor: Actor) -> Tenant:
    """Suspend or reactivate a tenant. A suspended tenant's API calls answer 403."""
    before = tenant.status
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    tenant.status = status
    if before != status:
        action = "tenant.suspend" if status == Tenant.Status.SUSPENDED else "tenant.reactivate"
        audit.record(
            tenant,
            actor=actor,
            action=action,
            target=tenant,
            before={"status": before},
            after={"status": status},
        )
    return tenant


@transaction.atomic
def regenerate_access_key(
    tenant: Tenant, name: str, *, actor: Actor, grace: timedelta = timedelta(0)
) -> AccessKey:
    """Replace one key's secret. The other key keeps working throughout (ACS semantics);
    with a `grace` period the replaced secret also keeps working until it ends (a later
    regeneration ends it at once: only one previous secret is kept)."""
    if not timedelta(0) <= grace <= MAX_KEY_GRACE:
        raise ValidationError(f"The grace period is at most {MAX_KEY_GRACE.days} days.")
    key = AccessKey.objects.for_tenant(tenant).select_for_update().get(name=name)
    if grace:
        key.previous_secret_encrypted = key.secret_encrypted
        key.previous_expires_at = timezone.now() + grace
    else:
        key.previous_secret_encrypted, key.previous_expires_at = "", None
    key.secret = AccessKey.generate_secret()
    key.save()
    audit.record(
        tenant,
        actor=actor,
        action="access_key.regenerate",
        target=key,
        after={
            "previous_valid_until": expiry.isoformat()
            if (expiry := key.previous_expires_at)
            else None
        },
    )
    return key


@transaction.atomic
def set_access_key_role(tenant: Tenant, name: str, role: str, *, actor: Actor) -> AccessKey:
    """Give one key a role (viewer, operator or admin): what callers signing with it may do.

    A member can never give a key more than their own role. Raises ValidationError for
    a role keys cannot have or one above the actor's, AccessKey.DoesNotExist for a name
    the tenant has no key by.
    """
    if role not in KEY_ROLES:
        raise ValidationError(f"A key's role is one of {', '.join(KEY_ROLES)}.")
    if isinstance(actor, AbstractBaseUser):
        mine = Membership.objects.for_tenant(tenant).filter(user=actor).first()
        if mine is None or outranks(role, mine.role):
            raise ValidationError("You cannot give a key more than your own role.")
    key = AccessKey.objects.for_tenant(tenant).select_for_update().get(name=name)
    before = key.role
    if before != role:
        AccessKey.objects.for_tenant(tenant).filter(pk=key.pk).update(role=role)
        key.role = role
        audit.record(
            tenant,
            actor=actor,
            action="access_key.role",
            target=key,
            before={"role": before},
            after={"role": role},
        )
    return key


@transaction.atomic
def add_phone_number(tenant: Tenant, e164: str, *, actor: Actor, label: str = "") -> PhoneNumber:
    """Give the tenant a caller ID. Raises ValidationError for a bad or taken number."""
    number = normalize_e164(e164)
    try:
        with transaction.atomic():
            phone = PhoneNumber.unscoped.create(tenant=tenant, e164=number, label=label[:100])
    except IntegrityError:
        raise ValidationError(f"{number} is already in use.") from None
    audit.record(
        tenant, actor=actor, action="phone_number.add", target=phone, after={"e164": number}
    )
    return phone


@transaction.atomic
def remove_phone_number(tenant: Tenant, phone_id: int, *, actor: Actor) -> None:
    """Remove a caller ID. Raises PhoneNumber.DoesNotExist for another tenant's number and
    ValidationError while something (a reminder plan) still calls from it."""
    phone = PhoneNumber.objects.for_tenant(tenant).get(pk=phone_id)
    audit.record(
        tenant,
        actor=actor,
        action="phone_number.remove",
        target=phone,
        before={"e164": phone.e164},
    )
    try:
        with transaction.atomic():
            phone.delete()
    except ProtectedError as exc:
        users = ", ".join(sorted({str(obj) for obj in exc.protected_objects}))
        raise ValidationError(f"{phone.e164} is still the caller ID of: {users}.") from None


def _owners_left(tenant: Tenant, excluding: Membership) -> int:
    return (
        Membership.objects.for_tenant(tenant)
        .filter(role=Role.OWNER)
        .exclude(pk=excluding.pk)
        .count()
    )


@transaction.atomic
def change_member_role(
    tenant: Tenant, membership_id: int, role: str, *, actor: Actor
) -> Membership:
    """Change a member's role; the last owner cannot be demoted."""
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    membership = Membership.objects.for_tenant(tenant).select_for_update().get(pk=membership_id)
    before = membership.role
    if before == Role.OWNER and role != Role.OWNER and not _owners_left(tenant, membership):
        raise ValidationError("A tenant needs at least one owner.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        tenant,
        actor=actor,
        action="member.change_role",
        target=membership,
        before={"role": before},
        after={"role": role},
    )
    return membership


@transaction.atomic
def remove_member(tenant: Tenant, membership_id: int, *, actor: Actor) -> None:
    """Remove a member; the last owner cannot be removed."""
    membership = Membership.objects.for_tenant(tenant).select_for_update().get(pk=membership_id)
    if membership.role == Role.OWNER and not _owners_left(tenant, membership):
        raise ValidationError("A tenant needs at least one owner.")
    audit.record(
        tenant,
        actor=actor,
        action="member.remove",
        target=membership,
        before={"role": membership.role},
    )
    membership.delete()


@transaction.atomic
def set_recording_retention(tenant: Tenant, days: int, *, actor: Actor) -> Tenant:
    """Keep the tenant's recordings `days` days (legal holds aside). Raises ValidationError
    below one day."""
    if days < 1:
        raise ValidationError("Keep recordings at least one day.")
    before = Tenant.objects.select_for_update().get(pk=tenant.pk).recording_retention_days
    Tenant.objects.filter(pk=tenant.pk).update(recording_retention_days=days)
    tenant.recording_retention_days = days
    if before != days:
        audit.record(
            tenant,
            actor=actor,
            action="tenant.retention",
            target=tenant,
            before={"recording_retention_days": before},
            after={"recording_retention_days": days},
        )
    return tenant
