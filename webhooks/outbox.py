"""Publishing: how every app hands a message to the durable outbox.

A message is committed with the change that caused it (the caller's transaction), and a
worker is asked to send it once that transaction commits. If the broker is down the change
still commits: the sweeper finds the message and sends it (webhooks/sweeper.py).
"""

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from webhooks import delivery as sending
from webhooks.models import Delivery


def publish(
    *,
    tenant_id: int,
    url: str,
    event_type: str,
    payload: dict,
    ordering_key: str = "",
    sequence: int = 0,
    labels: dict | None = None,
    message_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
) -> Delivery:
    """Queue `payload` (one element of the JSON array POSTed to `url`) for delivery.

    Messages sharing an `ordering_key` are sent one at a time in `sequence` order while
    the endpoint answers 2xx; an empty key means no order. Must run inside the caller's
    transaction so the message exists exactly when the change does.
    """
    delivery = Delivery.unscoped.create(
        tenant_id=tenant_id,
        message_id=message_id or uuid.uuid4(),
        event_type=event_type,
        payload=payload,
        ordering_key=ordering_key,
        sequence=sequence,
        labels=labels or {},
        url=url,
        created_at=created_at or timezone.now(),
    )
    if ordering_key:
        transaction.on_commit(lambda: sending.enqueue(ordering_key), robust=True)
    else:
        transaction.on_commit(lambda: sending.enqueue_one(delivery.pk), robust=True)
    return delivery


def publish_many(messages: list[dict]) -> list[Delivery]:
    """`publish` for several messages in one INSERT (the gateway writes a batch of carrier
    events' callbacks at once): each dict holds `publish`'s keyword arguments. Returned in
    the same order, with their ids."""
    deliveries = Delivery.unscoped.bulk_create(
        Delivery(
            tenant_id=m["tenant_id"],
            message_id=m.get("message_id") or uuid.uuid4(),
            event_type=m["event_type"],
            payload=m["payload"],
            ordering_key=m.get("ordering_key", ""),
            sequence=m.get("sequence", 0),
            labels=m.get("labels") or {},
            url=m["url"],
            created_at=m.get("created_at") or timezone.now(),
        )
        for m in messages
    )
    for key in dict.fromkeys(d.ordering_key for d in deliveries if d.ordering_key):
        transaction.on_commit(lambda key=key: sending.enqueue(key), robust=True)
    for delivery in deliveries:
        if not delivery.ordering_key:
            transaction.on_commit(lambda pk=delivery.pk: sending.enqueue_one(pk), robust=True)
    return deliveries
