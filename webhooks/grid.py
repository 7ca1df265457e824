"""Event Grid-schema events for a tenant's subscriptions (ACS-WIRE.md §5.3).

IncomingCall (and later recording files, CallStarted) are not about a call connection,
so they go to the tenant's EventSubscriptions rather than a callbackUri, in the Event
Grid envelope, once each subscription has passed the validation handshake.
"""

import uuid
from datetime import UTC, datetime

from django.db import transaction

from tenants.models import Tenant
from webhooks.models import EventSubscription, GridEvent

VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"


def topic(tenant: Tenant) -> str:
    return (
        "/subscriptions/callauto/resourceGroups/callauto/providers/"
        f"Microsoft.Communication/communicationServices/{tenant.slug}"
    )


def envelope(tenant: Tenant, event_type: str, subject: str, data: dict, event_id: str) -> dict:
    return {
        "id": event_id,
        "topic": topic(tenant),
        "subject": subject,
        "data": data,
        "eventType": event_type,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def publish(tenant: Tenant, event_type: str, subject: str, data: dict) -> list[GridEvent]:
    """Queue `event_type` for every active subscription that wants it (after commit)."""
    subscriptions = EventSubscription.objects.for_tenant(tenant).filter(
        state=EventSubscription.State.ACTIVE
    )
    rows = []
    for subscription in subscriptions:
        if subscription.event_types and event_type not in subscription.event_types:
            continue
        event_id = uuid.uuid4()
        rows.append(
            GridEvent.unscoped.create(
                tenant=tenant,
                subscription=subscription,
                subject=subject,
                event_id=event_id,
                event_type=event_type,
                body=envelope(tenant, event_type, subject, data, str(event_id)),
            )
        )
    for row in rows:
        transaction.on_commit(lambda pk=row.pk: _enqueue(pk))
    return rows


def _enqueue(grid_event_id: int) -> None:
    from django_q.tasks import async_task

    async_task("webhooks.tasks.deliver_grid_event", grid_event_id, group="grid")


def validation_event(subscription: EventSubscription) -> list[dict]:
    data = {"validationCode": subscription.validation_code}
    return [envelope(subscription.tenant, VALIDATION_EVENT, "", data, str(uuid.uuid4()))]
