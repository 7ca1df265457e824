"""Joining a tenant by invitation: an owner invites an e-mail address with a role; the
person who receives the link accepts it, signed in or signing up on the spot.

Nothing here looks an account up by the address given, so the inviter learns nothing
about which addresses have accounts (the members page answers the same either way).
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tenants import audit
from tenants.audit import Actor
from tenants.models import Invitation, Membership, Tenant

Role = Membership.Role


class InvalidInvitation(Exception):
    """The link is unknown, used, revoked or expired (deliberately not saying which)."""


class TenantSuspended(Exception):
    """The inviting tenant is suspended: nobody joins it until it is reactivated."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_link(token: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse("portal:invitation", kwargs={"token": token})


@transaction.atomic
def invite_member(tenant: Tenant, email: str, role: str, *, actor: Actor) -> tuple[Invitation, str]:
    """Invite `email` to join `tenant` as `role`; return the invitation and its link.

    A pending invitation to the same address is revoked (one live link per address).
    The e-mail is sent after commit through Django's e-mail backend. Raises
    ValidationError for a malformed address or an unknown role.
    """
    email = email.strip()
    validate_email(email)
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    now = timezone.now()
    earlier = Invitation.objects.for_tenant(tenant).filter(
        email__iexact=email, accepted_at=None, revoked_at=None, expires_at__gt=now
    )
    for old in earlier.select_for_update():
        _revoke(tenant, old, actor=actor, reason="replaced")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.unscoped.create(
        tenant=tenant,
        email=email,
        role=role,
        token_hash=_hash(token),
        invited_by=actor if isinstance(actor, AbstractBaseUser) else None,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit.record(
        tenant,
        actor=actor,
        action="invitation.create",
        target=invitation,
        after={"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()},
    )
    link = invitation_link(token)
    # robust: a mail server that is down must not fail the invitation (the inviter sees
    # the link on the page and can pass it on).
    transaction.on_commit(lambda: _send(invitation, link, actor), robust=True)
    return invitation, link


def _send(invitation: Invitation, link: str, actor: Actor) -> None:
    tenant = invitation.tenant
    inviter = audit.actor_label(actor) if actor is not None else "The platform"
    expires = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    send_mail(
        subject=f"You are invited to {tenant.name} on callauto",
        message=(
            f"{inviter} invites you to join {tenant.name} on callauto as "
            f"{invitation.get_role_display().lower()}.\n\n"
            f"Accept (you can sign up on the page if you have no account):\n{link}\n\n"
            f"The link works once, until {expires}. If you did not expect it, ignore it."
        ),
        from_email=None,  # DEFAULT_FROM_EMAIL
        recipient_list=[invitation.email],
    )


def _revoke(tenant: Tenant, invitation: Invitation, *, actor: Actor, reason: str) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(
        tenant,
        actor=actor,
        action="invitation.revoke",
        target=invitation,
        before={"email": invitation.email, "role": invitation.role},
        after={"reason": reason},
    )


@transaction.atomic
def revoke_invitation(tenant: Tenant, invitation_id: int, *, actor: Actor) -> Invitation:
    """Withdraw a pending invitation. Raises Invitation.DoesNotExist for another tenant's
    or one no longer pending."""
    invitation = (
        Invitation.objects.for_tenant(tenant)
        .select_for_update()
        .get(pk=invitation_id, accepted_at=None, revoked_at=None)
    )
    _revoke(tenant, invitation, actor=actor, reason="revoked")
    return invitation


def pending_invitations(tenant: Tenant) -> list[Invitation]:
    now = timezone.now()
    return list(
        Invitation.objects.for_tenant(tenant)
        .filter(accepted_at=None, revoked_at=None, expires_at__gt=now)
        .select_related("invited_by")
    )


def find_invitation(token: str) -> Invitation:
    """The pending invitation a link names. Raises InvalidInvitation otherwise."""
    invitation = (
        Invitation.unscoped.select_related("tenant").filter(token_hash=_hash(token)).first()
    )
    if invitation is None or invitation.state_at(timezone.now()) != Invitation.State.PENDING:
        raise InvalidInvitation("This invitation link is not valid (used, revoked or expired).")
    return invitation


@transaction.atomic
def accept_invitation(token: str, user: AbstractBaseUser) -> tuple[Membership, bool]:
    """`user` accepts the invitation the link names: they join its tenant with its role.

    Returns (membership, joined); a user who already belongs keeps their role and the
    link is used up. Raises InvalidInvitation, or TenantSuspended (the link stays valid).
    """
    found = find_invitation(token)
    # Lock it, and check again under the lock: two clicks must not both use the link.
    invitation = Invitation.unscoped.select_for_update().get(pk=found.pk)
    tenant = found.tenant
    if invitation.state_at(timezone.now()) != Invitation.State.PENDING:
        raise InvalidInvitation("This invitation link is not valid (used, revoked or expired).")
    if not tenant.is_active:
        raise TenantSuspended(f"{tenant.name} is suspended; try the link again later.")
    membership, joined = Membership.unscoped.get_or_create(
        tenant=tenant, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        tenant,
        actor=user,
        action="invitation.accept",
        target=membership,
        after={
            "email": invitation.email,
            "role": membership.role,
            "invitation": invitation.pk,
            "joined": joined,
        },
    )
    return membership, joined
