"""Writing the audit trail: one call per change, inside the change's transaction."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from tenants.models import AuditEntry, Tenant

# Who acted: a portal user, an API principal with a `label` (an access key), or the
# platform itself (None).
Actor = AbstractBaseUser | AnonymousUser | Any | None


def actor_label(actor: Actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, AbstractBaseUser):
        return actor.get_username()
    return str(getattr(actor, "label", actor))


def record(
    tenant: Tenant | None,
    *,
    actor: Actor,
    action: str,
    target: models.Model,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append one AuditEntry for `action` on `target`.

    `before`/`after` hold only the fields that matter to a reader, never secrets.
    """
    entry = AuditEntry(
        tenant=tenant,
        actor=actor if isinstance(actor, AbstractBaseUser) else None,
        actor_label=actor_label(actor),
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk or ""),
        target_repr=str(target)[:200],
        before=before,
        after=after,
    )
    entry.save()
    return entry
