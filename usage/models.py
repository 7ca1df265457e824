"""What a tenant used and what it costs: one UsageRecord per billable thing, and the
daily roll-ups the reports read.

Records keep their figures after the call they came from is deleted (retention, bench
cleanup): the links to calls, legs and media operations are nullable and SET_NULL, and
cost is frozen at the rates in force when the record was metered.
"""

from django.db import models
from django.db.models import Q

from calls.models import Call, MediaOperation, Participant
from tenants.managers import TenantManager
from tenants.models import Tenant


class Category(models.TextChoices):
    PSTN_OUTBOUND = "pstn_outbound", "PSTN outbound"
    PSTN_INBOUND = "pstn_inbound", "PSTN inbound"
    VOIP = "voip", "VoIP"
    RECORDING = "recording", "Recording"
    TTS = "tts", "Text to speech"


class UsageRecord(models.Model):
    """One metered leg, recording or text-to-speech operation.

    Metering is idempotent: a leg, a media operation and a recording's `source_id` can
    each be metered once only (unique constraints), so a re-run inserts nothing new.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_records")
    category = models.CharField(max_length=16, choices=Category.choices)
    call = models.ForeignKey(
        Call, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    participant = models.OneToOneField(
        Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="usage"
    )
    media_operation = models.OneToOneField(
        MediaOperation, on_delete=models.SET_NULL, null=True, blank=True, related_name="usage"
    )
    # The recordings app's id for a finalized recording file (see services.meter_recording).
    source_id = models.CharField(max_length=128, blank=True)
    started_at = models.DateTimeField()
    seconds = models.FloatField(default=0)
    # `seconds` rounded up to the rate plan's billing increment.
    billable_seconds = models.PositiveIntegerField(default=0)
    # Characters spoken, for text to speech.
    quantity = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    metered_at = models.DateTimeField(auto_now_add=True)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        indexes = [models.Index(fields=["tenant", "started_at"], name="usage_tenant_start")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "category", "source_id"],
                condition=~Q(source_id=""),
                name="usage_source_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.billable_seconds}s {self.cost}"


class DailyUsage(models.Model):
    """A tenant's usage of one category on one day of its own time zone.

    Maintained by `usage.rollup`, always recomputed from UsageRecord, so re-running it
    never double counts.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="daily_usage")
    day = models.DateField()
    category = models.CharField(max_length=16, choices=Category.choices)
    count = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)
    billable_seconds = models.BigIntegerField(default=0)
    quantity = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=6, default=0)

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        default_manager_name = "unscoped"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day", "category"], name="daily_usage_once")
        ]
        # The platform report reads every tenant's recent days: from the index alone
        # (PostgreSQL covering index), not from rows scattered over the table.
        indexes = [
            models.Index(
                fields=["day"],
                include=[
                    "tenant",
                    "category",
                    "count",
                    "seconds",
                    "billable_seconds",
                    "quantity",
                    "cost",
                ],
                name="daily_usage_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.category}"


class MeteringMark(models.Model):
    """How far metering may skip: every row of `source` below `position` is metered or
    will never be billable, so each run scans only recent rows, not the whole table."""

    source = models.CharField(max_length=32, unique=True)
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.source} ≥ {self.position}"
