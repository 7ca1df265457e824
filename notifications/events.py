"""The campaign's own CloudEvents (Notification.Launched, .Acknowledged, .Completed), sent
to the notification's events URL through the durable outbox, in order per notification."""

import uuid

from django.db import connection
from django.utils import timezone

from notifications.models import Notification, Recipient
from webhooks import cloudevents, outbox

PREFIX = "Callauto.Notification."


def publish(notification: Notification, name: str, data: dict) -> None:
    """Queue one event (inside the caller's transaction, which holds the notification's
    row lock: the sequence counter is exact)."""
    if not notification.events_url:
        return
    notification.event_sequence = _next_sequence(notification.pk)
    subject = f"notifications/{notification.pk}"
    event_id = uuid.uuid4()
    outbox.publish(
        tenant_id=notification.tenant_id,
        url=notification.events_url,
        event_type=PREFIX + name,
        payload=cloudevents.envelope(
            event_id=event_id,
            event_type=PREFIX + name,
            subject=subject,
            data={"notificationId": notification.pk, "name": notification.name, **data},
            time=timezone.now(),
            sequence=notification.event_sequence,
        ),
        ordering_key=f"notification:{notification.pk}",
        sequence=notification.event_sequence,
        labels={"notification": notification.pk},
        message_id=event_id,
    )


def _next_sequence(pk: int) -> int:
    """Add one to the notification's event counter and return it: one UPDATE ... RETURNING
    (update() + refresh_from_db took two round trips per acknowledgment)."""
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET event_sequence = event_sequence + 1 WHERE id = %s"
            " RETURNING event_sequence",
            [pk],
        )
        return cursor.fetchone()[0]


def acknowledged(recipient: Recipient) -> None:
    publish(
        recipient.notification,
        "Acknowledged",
        {
            "recipientId": recipient.pk,
            "phone": recipient.phone,
            "area": recipient.area,
            "round": recipient.round,
            "acknowledgedAt": cloudevents.event_time(recipient.acknowledged_at or timezone.now()),
        },
    )
