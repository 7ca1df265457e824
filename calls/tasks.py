"""django-q2 tasks of the engine. Idempotent: the database says what is left to do."""

import json
import logging

import httpx
from django.db import transaction
from django.utils import timezone

from callauto import outbound
from calls import grid, signing
from calls.cloudevents import to_cloudevent
from calls.models import Delivery, EventSubscription, GridEvent

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def deliver_events(connection_id: int) -> int:
    """POST a connection's pending events to their callback URLs, in sequence order.

    Each delivery is claimed under a row lock (SKIP LOCKED), so a second worker running
    the same task skips it instead of sending it twice. Returns how many were sent.
    Retries with backoff and dead-lettering arrive with durable delivery (issue 5).
    """
    sent = 0
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
        while True:
            with transaction.atomic():
                delivery = (
                    Delivery.unscoped.select_for_update(skip_locked=True, of=("self",))
                    .filter(connection_id=connection_id, state=Delivery.State.PENDING)
                    .select_related("event", "event__connection", "event__call", "tenant")
                    .order_by("event__sequence_number")
                    .first()
                )
                if delivery is None:
                    return sent
                _post(client, delivery)
                sent += 1


def _post(client: httpx.Client, delivery: Delivery) -> None:
    event = delivery.event
    body = json.dumps([to_cloudevent(event)])
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {signing.bearer_token(delivery.tenant)}",
        **signing.webhook_headers(delivery.tenant, f"msg_{event.event_id.hex}", body),
    }
    delivery.attempts += 1
    try:
        response = outbound.request(
            "POST",
            event.callback_uri,
            timeout=TIMEOUT,
            client=client,
            content=body,
            headers=headers,
        )
    except (httpx.HTTPError, httpx.InvalidURL, outbound.UnsafeUrl) as exc:
        delivery.state = Delivery.State.FAILED
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
    else:
        delivery.last_status = response.status_code
        if 200 <= response.status_code < 300:
            delivery.state = Delivery.State.DELIVERED
            delivery.delivered_at = timezone.now()
        else:
            delivery.state = Delivery.State.FAILED
            delivery.last_error = response.text[:500]
    if delivery.state == Delivery.State.FAILED:
        log.warning(
            "callback %s to %s failed: %s",
            event.event_id,
            event.callback_uri,
            delivery.last_error or delivery.last_status,
        )
    delivery.save(update_fields=["attempts", "state", "last_status", "last_error", "delivered_at"])


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
                timeout=TIMEOUT,
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
            "POST", subscription.endpoint_url, timeout=TIMEOUT, content=body, headers=headers
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
