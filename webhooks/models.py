"""The durable outbox: what is to be POSTed where, how each attempt went, and the keys
that sign it.

A Delivery is one message to one URL. It carries its own payload (one element of the JSON
array that is POSTed), its ordering key (messages sharing a key go out one at a time, in
`sequence` order, while the endpoint answers 2xx) and labels that say what it is about, so
this app needs nothing from the apps that publish through it.
"""

import secrets
import uuid

from django.db import models
from django.utils import timezone

from tenants.managers import TenantManager
from tenants.models import Tenant


def new_kid() -> str:
    return secrets.token_urlsafe(24)


def new_validation_code() -> str:
    return str(uuid.uuid4())


class Delivery(models.Model):
    """One message to one URL, with retries (webhooks/delivery.py).

    The `webhook-id` is stable across attempts (`msg_<message id>`); each attempt is a
    DeliveryAttempt row.
    """

    class State(models.TextChoices):
        PENDING = "pending"  # due now
        DELIVERING = "delivering"  # claimed by a worker
        DELIVERED = "delivered"
        RETRYING = "retrying"  # failed; due again at next_attempt_at
        DEAD = "dead"  # gave up (schedule exhausted, endpoint gone, URL forbidden)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.UUIDField(default=uuid.uuid4, unique=True)
    event_type = models.CharField(max_length=96)
    payload = models.JSONField()
    # Messages with the same key go out one at a time in `sequence` order; "" = no order.
    ordering_key = models.CharField(max_length=64, blank=True)
    sequence = models.PositiveBigIntegerField(default=0)
    # What the message is about, for filters and pages (e.g. callConnectionId, serverCallId).
    labels = models.JSONField(default=dict, blank=True)
    url = models.URLField(max_length=2048)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["state", "ordering_key"], name="delivery_pending"),
            models.Index(fields=["ordering_key", "sequence"], name="delivery_order"),
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["tenant", "state", "-created_at"], name="delivery_tenant_state"),
            # Keyset paging of the portal list (tenants.portal.listing): newest first on (time, pk).
            models.Index(fields=["tenant", "-created_at", "-id"], name="delivery_tenant_keyset"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.sequence} → {self.state}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.message_id.hex}"


class DeliveryAttempt(models.Model):
    """One POST of a Delivery: what came back, how long it took."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error_class = models.CharField(max_length=64, blank=True)
    response_excerpt = models.CharField(max_length=1024, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_once")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error_class}"


class DisabledEndpoint(models.Model):
    """A callback URL that answered 410 Gone: nothing more is sent there until re-enabled."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="disabled_endpoints")
    url = models.URLField(max_length=2048)
    reason = models.CharField(max_length=200)
    disabled_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "url"], name="endpoint_disabled_once")
        ]

    def __str__(self) -> str:
        return self.url


class JwtSigningKey(models.Model):
    """The platform's RS256 key(s) for callback bearer tokens; published as JWKS."""

    kid = models.CharField(max_length=64, unique=True, default=new_kid)
    private_key_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.kid


class WebhookSecret(models.Model):
    """A tenant's Standard Webhooks signing secret (`whsec_...`), encrypted at rest.

    More than one may be live while a rotation overlaps; each signs every callback.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="webhook_secrets")
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"

    def __str__(self) -> str:
        return f"{self.tenant_id} secret {self.pk}"


class EventSubscription(models.Model):
    """A tenant's Event Grid-style webhook for call-independent events (IncomingCall, ...).

    It receives events only once it has answered the validation handshake.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="subscriptions")
    endpoint_url = models.URLField(max_length=2048)
    event_types = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    validation_code = models.CharField(max_length=64, default=new_validation_code)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    validated_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"

    def __str__(self) -> str:
        return self.endpoint_url


class GridEvent(models.Model):
    """An Event Grid-schema event for one subscription: outbox row and audit record."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="grid_events")
    subscription = models.ForeignKey(
        EventSubscription, on_delete=models.CASCADE, related_name="events"
    )
    event_id = models.UUIDField(default=uuid.uuid4, unique=True)
    event_type = models.CharField(max_length=96)
    subject = models.CharField(max_length=512, blank=True)
    body = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id}"
