"""Tenants and what belongs to them directly: members, access keys, numbers, rates, audit."""

import base64
import secrets
import zoneinfo
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants import crypto
from tenants.managers import AppendOnlyQuerySet, AppendOnlyTenantManager, TenantManager
from tenants.phone import normalize_e164


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (for example Europe/Paris).")


class RatePlan(models.Model):
    """Per-minute prices a tenant is billed at; platform operators manage these."""

    name = models.CharField(max_length=100, unique=True)
    currency = models.CharField(max_length=3, default="USD")
    pstn_outbound_per_minute = models.DecimalField(max_digits=10, decimal_places=5)
    pstn_inbound_per_minute = models.DecimalField(max_digits=10, decimal_places=5)
    voip_per_minute = models.DecimalField(max_digits=10, decimal_places=5)
    recording_per_minute = models.DecimalField(max_digits=10, decimal_places=5)
    # Text to speech is billed by characters spoken (0 = free).
    tts_per_million_characters = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0")
    )
    # Legs are billed in whole increments, rounded up (60 = per minute, 1 = per second).
    billing_increment_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1)]
    )

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default(cls) -> "RatePlan":
        plan, _ = cls.objects.get_or_create(
            name="Standard",
            defaults={
                "pstn_outbound_per_minute": Decimal("0.01300"),
                "pstn_inbound_per_minute": Decimal("0.00850"),
                "voip_per_minute": Decimal("0.00400"),
                "recording_per_minute": Decimal("0.00200"),
            },
        )
        return plan


class Tenant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    max_concurrent_calls = models.PositiveIntegerField(default=10)
    calls_per_second = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    rate_plan = models.ForeignKey(RatePlan, on_delete=models.PROTECT, related_name="tenants")
    # Recordings older than this are purged daily, unless under legal hold.
    recording_retention_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def connection_string(self, key: "AccessKey") -> str:
        return f"endpoint={self.endpoint};accesskey={key.secret}"

    @property
    def endpoint(self) -> str:
        """The ACS endpoint for this tenant: our public URL plus the tenant's path.

        The SDK keeps an endpoint's path and signs `host/path` as the HMAC host, which
        lets one server host many tenants on a bare IP address (see callauto.hmac_auth).
        """
        return f"{settings.PUBLIC_BASE_URL}/t/{self.slug}/"


class Membership(models.Model):
    class Role(models.TextChoices):
        # Ordered from least to most powerful; tenants.permissions relies on it.
        VIEWER = "viewer"
        OPERATOR = "operator"
        ADMIN = "admin"
        OWNER = "owner"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_once_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"


class AccessKey(models.Model):
    """One of a tenant's two HMAC keys, as ACS has: rotate one while the other works."""

    class Name(models.TextChoices):
        PRIMARY = "primary"
        SECONDARY = "secondary"

    # Never owner: an owner's own actions (members, keys) are portal-only, and admins can
    # read connection strings, so a key above admin would let an admin act as an owner.
    ROLES = [Membership.Role.VIEWER, Membership.Role.OPERATOR, Membership.Role.ADMIN]

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="access_keys")
    name = models.CharField(max_length=16, choices=Name.choices)
    # What a caller signing with this key may do (tenants.permissions). Admin by default:
    # an ACS connection string drives the whole API, as every key did before keys had roles.
    role = models.CharField(
        max_length=16,
        choices=[(role.value, role.label) for role in ROLES],
        default=Membership.Role.ADMIN,
    )
    # Fernet ciphertext of the base64 key; the plaintext is never stored.
    secret_encrypted = models.TextField()
    rotated_at = models.DateTimeField(auto_now=True)
    # The secret before the last regeneration, still accepted until `previous_expires_at`
    # (a grace period chosen when regenerating, like Stripe's "expires in N hours"), so
    # deployed applications can move to the new secret without an outage.
    previous_secret_encrypted = models.TextField(blank=True, default="")
    previous_expires_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="access_key_name_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"

    @staticmethod
    def generate_secret() -> str:
        # ACS keys are 64 random bytes, base64; the SDK base64-decodes them to sign.
        return base64.b64encode(secrets.token_bytes(64)).decode()

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    @property
    def secret_bytes(self) -> bytes:
        return base64.b64decode(self.secret)

    def accepted_secrets(self, now: datetime) -> list[bytes]:
        """The secrets a signature may use now: the current one, and the previous one
        while its grace period lasts."""
        accepted = [self.secret_bytes]
        expires = self.previous_expires_at
        if self.previous_secret_encrypted and expires and now < expires:
            accepted.append(base64.b64decode(crypto.decrypt(self.previous_secret_encrypted)))
        return accepted


class Trunk(models.Model):
    """A tenant's SIP trunk (a SIP provider or the tenant's own PBX): where the calls of
    the numbers bound to it go out, and where their incoming calls come from.

    It lives here, on the ground floor, because PhoneNumber points at it; the gateway
    (calls) turns it into the SIP driver's TrunkConfig. The digest password is Fernet
    ciphertext like access keys; the status fields are written by the gateway.
    """

    class Transport(models.TextChoices):
        UDP = "udp", "UDP"

    class Codecs(models.TextChoices):
        # Preference order of the SDP offer (G.711 only).
        PCMU_PCMA = "PCMU,PCMA", "PCMU, then PCMA"
        PCMA_PCMU = "PCMA,PCMU", "PCMA, then PCMU"
        PCMU = "PCMU", "PCMU only"
        PCMA = "PCMA", "PCMA only"

    class Registration(models.TextChoices):
        OFF = "off"  # the trunk does not want REGISTER
        PENDING = "pending"  # no answer yet (or no gateway carries the trunk)
        REGISTERED = "registered"
        FAILED = "failed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trunks")
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    proxy_host = models.CharField(max_length=253)
    proxy_port = models.PositiveIntegerField(
        default=5060, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    transport = models.CharField(max_length=8, choices=Transport.choices, default=Transport.UDP)
    domain = models.CharField(max_length=253, blank=True)  # SIP domain; default proxy_host
    username = models.CharField(max_length=100, blank=True)
    # Fernet ciphertext of the digest password ("" = none); never shown once stored.
    password_encrypted = models.TextField(blank=True)
    register = models.BooleanField(default=False)
    register_expires = models.PositiveIntegerField(
        default=600, validators=[MinValueValidator(60), MaxValueValidator(86400)]
    )
    codecs = models.CharField(max_length=16, choices=Codecs.choices, default=Codecs.PCMU_PCMA)
    max_concurrent_calls = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )
    # Caller-ID rules: the From user when a call gives none; "+" stripped for trunks that
    # want bare digits; the prefix that turns inbound bare digits into E.164.
    default_caller_id = models.CharField(max_length=32, blank=True)
    strip_plus = models.BooleanField(default=False)
    inbound_prefix = models.CharField(max_length=8, default="+", blank=True)
    send_pai = models.BooleanField(default=False)  # also P-Asserted-Identity
    # Live status, written by the gateway that carries the trunk.
    ping_status = models.PositiveIntegerField(null=True, blank=True)  # last OPTIONS answer
    ping_rtt_ms = models.FloatField(null=True, blank=True)
    registration_state = models.CharField(
        max_length=16, choices=Registration.choices, default=Registration.OFF
    )
    registration_status = models.PositiveIntegerField(null=True, blank=True)
    status_gateway = models.CharField(max_length=64, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="trunk_name_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def password(self) -> str:
        return crypto.decrypt(self.password_encrypted) if self.password_encrypted else ""

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = crypto.encrypt(value) if value else ""


class PhoneNumber(models.Model):
    """A caller ID the tenant owns; also where incoming calls to it are routed."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="phone_numbers")
    # Unique across tenants: an incoming call to a number must reach exactly one tenant.
    e164 = models.CharField(max_length=16, unique=True)
    label = models.CharField(max_length=100, blank=True)
    # Its calls go out over this trunk (and come in from it); none: the simulated carrier.
    trunk = models.ForeignKey(
        Trunk, on_delete=models.PROTECT, null=True, blank=True, related_name="phone_numbers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["e164"]

    def __str__(self) -> str:
        return self.e164

    def clean(self) -> None:
        self.e164 = normalize_e164(self.e164)


class AuditEntry(models.Model):
    """Who did what to which object, with before/after; written once, never changed."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # Who acted, kept as text so it survives the user's deletion (or names an access key).
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    unscoped = models.Manager.from_queryset(AppendOnlyQuerySet)()
    objects = AppendOnlyTenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # Keyset paging of the portal list (tenants.portal.listing): newest first on (time, pk).
            models.Index(fields=["tenant", "-created_at", "-id"], name="audit_tenant_keyset")
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("AuditEntry rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("AuditEntry rows are append-only")


class Invitation(models.Model):
    """An owner's offer of a role in the tenant, sent as a link to an e-mail address.

    Whoever opens the link, signed in (or signing up on it), accepts it: nobody joins a
    tenant without acting themselves. The link's token is random and only its SHA-256
    is stored; it works once, until `expires_at`, unless revoked.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"
        EXPIRED = "expired"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.tenant} ({self.role})"

    def state_at(self, now: Any) -> str:
        if self.accepted_at is not None:
            return self.State.ACCEPTED
        if self.revoked_at is not None:
            return self.State.REVOKED
        return self.State.EXPIRED if now >= self.expires_at else self.State.PENDING


class UserPreference(models.Model):
    """A person's own portal settings, the same in every tenant they belong to."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_preference"
    )
    # Blank: show times in each tenant's own zone.
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])

    def __str__(self) -> str:
        return f"{self.user_id} preferences"
