"""Metering: ended legs, text-to-speech and recordings become UsageRecords, and the
daily roll-ups of the days they touched are recomputed in the same transaction.

Only legs that connected and ended are billable. A phone-number leg is PSTN (inbound
when it is the leg that called in, outbound when we dialled it); any other leg is VoIP.
Seconds are rounded up to the tenant's billing increment; cost is frozen at the tenant's
rates when metered. Everything here is idempotent: unique constraints make a leg, a
media operation and a recording countable once, and roll-ups are recomputed from the
records, never incremented.
"""

import math
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from calls.models import MediaOperation, Participant
from tenants.models import RatePlan, Tenant
from usage.models import Category, DailyUsage, MeteringMark, UsageRecord

BATCH = 500
# A row this young may belong to a transaction that has not committed yet, behind rows
# with higher ids that have: the mark never passes it (see _next_mark).
RECENT = timedelta(hours=1)
# One metering writer at a time (pg_advisory_xact_lock key; "usage" in ASCII).
LOCK_KEY = 0x7573616765
PER_MINUTE_RATE = {
    Category.PSTN_OUTBOUND: "pstn_outbound_per_minute",
    Category.PSTN_INBOUND: "pstn_inbound_per_minute",
    Category.VOIP: "voip_per_minute",
    Category.RECORDING: "recording_per_minute",
}
# Text to speech is priced per million characters once rate plans carry such a price;
# until then it is metered with a zero cost.
TTS_RATE = "tts_per_million_characters"
TTS_KINDS = [
    MediaOperation.Kind.PLAY,
    MediaOperation.Kind.RECOGNIZE,
    MediaOperation.Kind.HOLD_MUSIC,
]
CENT_FRACTION = Decimal("0.000001")
Touched = dict[int, set[date]]


# --- Pricing ---------------------------------------------------------------------------


def billable_seconds(seconds: float, increment: int) -> int:
    """`seconds` rounded up to whole increments; a connected leg of 0.2 s bills one."""
    if seconds <= 0:
        return 0
    return math.ceil(seconds / increment) * increment


def cost_of(plan: RatePlan, category: str, billable: int, quantity: int = 0) -> Decimal:
    if category == Category.TTS:
        per_million = getattr(plan, TTS_RATE)
        amount = Decimal(per_million) * quantity / 1_000_000
    else:
        amount = getattr(plan, PER_MINUTE_RATE[category]) * billable / 60
    return amount.quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)


def leg_category(participant: Participant) -> str:
    if participant.kind != "phoneNumber":
        return Category.VOIP
    if participant.role == Participant.Role.CALLER:
        return Category.PSTN_INBOUND
    return Category.PSTN_OUTBOUND


def local_day(tenant: Tenant, when: datetime) -> date:
    return timezone.localtime(when, zoneinfo.ZoneInfo(tenant.time_zone)).date()


# --- Metering --------------------------------------------------------------------------


def meter_usage(batch: int = BATCH) -> dict[str, int]:
    """Meter every ended leg and every text-to-speech operation not metered yet.

    Safe to run twice or concurrently (one writer at a time, unique constraints).
    Returns how many records of each kind were written.
    """
    legs = _drain("participants", Participant, _meter_leg_batch, batch)
    tts = _drain("media_operations", MediaOperation, _meter_tts_batch, batch)
    return {"legs": legs, "tts": tts}


def meter_recording(
    tenant: Tenant, *, source_id: str, started_at: datetime, seconds: float
) -> None:
    """Meter a finalized recording file once (a second call with the same `source_id`
    changes nothing) and refresh its day's roll-up."""
    plan = tenant.rate_plan
    billable = billable_seconds(seconds, plan.billing_increment_seconds)
    record = UsageRecord(
        tenant=tenant,
        category=Category.RECORDING,
        source_id=source_id,
        started_at=started_at,
        seconds=seconds,
        billable_seconds=billable,
        cost=cost_of(plan, Category.RECORDING, billable),
    )
    with transaction.atomic():
        _lock()
        if (
            UsageRecord.objects.for_tenant(tenant)
            .filter(category=Category.RECORDING, source_id=source_id)
            .exists()
        ):
            return
        record.save()
        refresh_daily({tenant.pk: {local_day(tenant, started_at)}})


def _drain(source: str, model: type, meter_batch, batch: int) -> int:
    """Meter `model` rows from the source's mark upward, one transaction per batch."""
    mark = MeteringMark.objects.get_or_create(source=source)[0].position
    # Decided before draining: a row that ends while we drain may lie below a mark
    # computed afterwards, unmetered. Rows closed before this point are all drained now.
    next_mark = _next_mark(model, mark)
    after = mark - 1
    written = 0
    while True:
        with transaction.atomic():
            _lock()
            after, count = meter_batch(after, batch)
        written += count
        if after is None:
            break
    if next_mark > mark:
        MeteringMark.objects.filter(source=source, position=mark).update(position=next_mark)
    return written


def _meter_leg_batch(after: int, batch: int) -> tuple[int | None, int]:
    metered = UsageRecord.unscoped.filter(participant=OuterRef("pk"))
    legs = list(
        Participant.unscoped.filter(pk__gt=after, joined_at__isnull=False, left_at__isnull=False)
        .exclude(Exists(metered))
        .select_related("tenant__rate_plan")
        .order_by("pk")[:batch]
    )
    records = []
    for leg in legs:
        plan = leg.tenant.rate_plan
        category = leg_category(leg)
        seconds = max((leg.left_at - leg.joined_at).total_seconds(), 0.0)
        billable = billable_seconds(seconds, plan.billing_increment_seconds)
        records.append(
            UsageRecord(
                tenant=leg.tenant,
                category=category,
                call_id=leg.call_id,
                participant=leg,
                started_at=leg.joined_at,
                seconds=seconds,
                billable_seconds=billable,
                cost=cost_of(plan, category, billable),
            )
        )
    return _save(records, legs, batch)


def _meter_tts_batch(after: int, batch: int) -> tuple[int | None, int]:
    metered = UsageRecord.unscoped.filter(media_operation=OuterRef("pk"))
    ops = list(
        MediaOperation.unscoped.filter(
            pk__gt=after,
            kind__in=TTS_KINDS,
            started_at__isnull=False,
            ended_at__isnull=False,
        )
        .exclude(Exists(metered))
        .select_related("tenant__rate_plan")
        .order_by("pk")[:batch]
    )
    records = []
    for op in ops:
        characters = spoken_characters(op.payload)
        if not characters:
            continue  # audio files only: nothing to bill
        records.append(
            UsageRecord(
                tenant=op.tenant,
                category=Category.TTS,
                call_id=op.call_id,
                media_operation=op,
                started_at=op.started_at,
                seconds=max((op.ended_at - op.started_at).total_seconds(), 0.0),
                quantity=characters,
                cost=cost_of(op.tenant.rate_plan, Category.TTS, 0, characters),
            )
        )
    return _save(records, ops, batch)


def spoken_characters(payload: dict) -> int:
    """Characters of the text sources a play or recognize spoke (a loop is synthesized
    once, so it counts once)."""
    sources = [*payload.get("sources", []), *payload.get("prompts", [])]
    spoken = ("text", "ssml")  # SSML counts whole, markup included (as Azure bills it)
    return sum(len(s.get("text", "")) for s in sources if s.get("kind") in spoken)


def _save(records: list[UsageRecord], scanned: list, batch: int) -> tuple[int | None, int]:
    """Insert the batch and refresh its days; return the cursor (None when done)."""
    UsageRecord.unscoped.bulk_create(records, ignore_conflicts=True)
    touched: Touched = defaultdict(set)
    for record in records:
        touched[record.tenant_id].add(local_day(record.tenant, record.started_at))
    refresh_daily(touched)
    done = len(scanned) < batch
    return (None if done else scanned[-1].pk), len(records)


def _next_mark(model: type, mark: int) -> int:
    """The first row at or above `mark` that is still live or too young to trust; past
    the last row when there is none."""
    rows = model.unscoped.filter(pk__gte=mark)
    live = [Participant.State.INVITED, Participant.State.CONNECTED]
    if model is MediaOperation:
        live = [MediaOperation.State.QUEUED, MediaOperation.State.RUNNING]
        young = Q(created_at__gte=timezone.now() - RECENT)
    else:
        young = Q(invited_at__gte=timezone.now() - RECENT)
    first_open = rows.filter(Q(state__in=live) | young).aggregate(first=Min("pk"))["first"]
    if first_open is not None:
        return first_open
    last = rows.aggregate(last=Max("pk"))["last"]
    return mark if last is None else last + 1


def _lock() -> None:
    if connection.vendor == "postgresql":  # the embedded SQLite default has one writer anyway
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


# --- Daily roll-ups --------------------------------------------------------------------


def refresh_daily(touched: Touched) -> int:
    """Recompute the DailyUsage rows of the given tenants' days from their records.

    Days are the tenant's own (its time zone). Returns how many rows were written.
    """
    written = 0
    tenants = Tenant.objects.in_bulk(list(touched))
    for tenant_id, days in touched.items():
        if days:
            written += _refresh_tenant(tenants[tenant_id], days)
    return written


def _refresh_tenant(tenant: Tenant, days: Iterable[date]) -> int:
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    days = sorted(days)
    start = datetime.combine(days[0], time.min, tzinfo=zone)
    end = datetime.combine(days[-1] + timedelta(days=1), time.min, tzinfo=zone)
    wanted = set(days)
    sums = (
        UsageRecord.objects.for_tenant(tenant)
        .filter(started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=zone))
        .values("day", "category")
        .annotate(
            n=Count("pk"),
            secs=Sum("seconds"),
            billable=Sum("billable_seconds"),
            qty=Sum("quantity"),
            total=Sum("cost"),
        )
    )
    rows = [
        DailyUsage(
            tenant=tenant,
            day=row["day"],
            category=row["category"],
            count=row["n"],
            seconds=row["secs"] or 0,
            billable_seconds=row["billable"] or 0,
            quantity=row["qty"] or 0,
            cost=row["total"] or 0,
        )
        for row in sums
        if row["day"] in wanted
    ]
    DailyUsage.unscoped.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["tenant", "day", "category"],
        update_fields=["count", "seconds", "billable_seconds", "quantity", "cost"],
    )
    return len(rows)
