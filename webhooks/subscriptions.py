"""Event Grid-style event webhooks (EventSubscription): add, remove, validate.

A subscription receives IncomingCall and other call-independent events once it has
answered the validation handshake (`webhooks.tasks.validate_subscription`).
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from callauto import outbound
from tenants import audit
from tenants.models import Tenant
from webhooks.models import EventSubscription


@transaction.atomic
def subscribe_events(
    tenant: Tenant, *, endpoint_url: str, event_types: list[str], actor: object
) -> EventSubscription:
    """Register a webhook for IncomingCall and other call-independent events; it starts
    receiving them once it answers the validation handshake (a task, after commit).

    Raises ValidationError for a URL the SSRF guard refuses (callauto.outbound.check),
    so a forbidden address is refused when it is given, not only when it is used.
    """
    try:
        outbound.check(endpoint_url)
    except outbound.UnsafeUrl as exc:
        raise ValidationError(f"This URL is not allowed: {exc}") from None
    subscription = EventSubscription.unscoped.create(
        tenant=tenant, endpoint_url=endpoint_url, event_types=event_types
    )
    audit.record(
        tenant,
        actor=actor,
        action="event_subscription.add",
        target=subscription,
        after={"endpoint_url": endpoint_url, "event_types": event_types},
    )
    transaction.on_commit(lambda: _enqueue_validation(subscription.pk))
    return subscription


def _enqueue_validation(subscription_id: int) -> None:
    from django_q.tasks import async_task

    async_task("webhooks.tasks.validate_subscription", subscription_id, group="grid")


@transaction.atomic
def unsubscribe_events(tenant: Tenant, subscription_id: int, *, actor: object) -> None:
    """Remove a webhook. Raises EventSubscription.DoesNotExist for another tenant's."""
    subscription = EventSubscription.objects.for_tenant(tenant).get(pk=subscription_id)
    audit.record(
        tenant,
        actor=actor,
        action="event_subscription.remove",
        target=subscription,
        before={"endpoint_url": subscription.endpoint_url},
    )
    subscription.delete()
