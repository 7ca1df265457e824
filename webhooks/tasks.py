"""django-q2 tasks of the outbox. Idempotent: the database says what is left to do."""

import json
import logging

import httpx
from django.db import transaction
from django.utils import timezone

from callauto import outbound
from webhooks import delivery, grid, signing
from webhooks.models import EventSubscription, GridEvent

log = logging.getLogger(__name__)


def deliver_events(ordering_key: str) -> int:
    """POST an ordering key's pending messages to their URLs, in sequence order.

    Safe to run twice or concurrently: deliveries are claimed one at a time per key
    (see webhooks.delivery). Returns how many attempts were made.
    """
    return delivery.deliver_key(ordering_key)


def deliver_one(delivery_id: int) -> bool:
    """POST one message that has no ordering key (e.g. out-of-call events)."""
    return delivery.deliver_one(delivery_id)


def sweep_deliveries() -> dict[str, int]:
    """Every minute: re-enqueue deliveries whose task was lost and retries now due."""
    return delivery.sweep()


def deliver_grid_event(grid_event_id: int) -> bool:
    """POST one Event Grid-schema event to its subscription. Returns True on a 2xx."""
    with transaction.atomic():
        row = (
            GridEvent.unscoped.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription", "tenant")
            .filter(pk=grid_event_id, state=GridEvent.State.PENDING)
            .first()
        )
        if row is None:
            return False
        body = json.dumps([row.body])
        headers = {
            "Content-Type": "application/json",
            "aeg-event-type": "Notification",
            **signing.webhook_headers(row.tenant, f"msg_{row.event_id.hex}", body),
        }
        row.attempts += 1
        try:
            response = outbound.request(
                "POST",
                row.subscription.endpoint_url,
                timeout=delivery.timeout(),
                content=body,
                headers=headers,
            )
        except (httpx.HTTPError, httpx.InvalidURL, outbound.UnsafeUrl) as exc:
            log.warning("grid event %s failed: %s", row.event_id, exc)
            row.state = GridEvent.State.FAILED
        else:
            row.last_status = response.status_code
            ok = 200 <= response.status_code < 300
            row.state = GridEvent.State.DELIVERED if ok else GridEvent.State.FAILED
        row.save(update_fields=["attempts", "state", "last_status"])
        return row.state == GridEvent.State.DELIVERED


def validate_subscription(subscription_id: int) -> bool:
    """Event Grid's handshake: POST a SubscriptionValidationEvent; the endpoint must
    answer 200 with `{"validationResponse": <code>}` before it gets any event."""
    subscription = EventSubscription.unscoped.select_related("tenant").get(pk=subscription_id)
    if subscription.state == EventSubscription.State.ACTIVE:
        return True
    body = json.dumps(grid.validation_event(subscription))
    headers = {"Content-Type": "application/json", "aeg-event-type": "SubscriptionValidation"}
    error = ""
    try:
        response = outbound.request(
            "POST",
            subscription.endpoint_url,
            timeout=delivery.timeout(),
            content=body,
            headers=headers,
        )
        answer = response.json() if response.status_code == 200 else {}
        if not isinstance(answer, dict) or answer.get("validationResponse") != (
            subscription.validation_code
        ):
            error = f"The endpoint answered {response.status_code} without the validation code."
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # UnsafeUrl is a ValueError
        error = f"{type(exc).__name__}: {exc}"
    state = EventSubscription.State.FAILED if error else EventSubscription.State.ACTIVE
    EventSubscription.unscoped.filter(pk=subscription.pk).update(
        state=state, last_error=error[:500], validated_at=None if error else timezone.now()
    )
    return not error
