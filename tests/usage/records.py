"""Usage rows for report tests, written as metering writes them: priced by the tenant's
plan, then rolled up by the real roll-up code."""

from collections import defaultdict
from datetime import datetime

from tenants.models import Tenant
from usage import services
from usage.models import Category, UsageRecord


def meter(tenant: Tenant, *rows: tuple[datetime, str, float]) -> list[UsageRecord]:
    """One record per (started_at, category, seconds or characters for TTS)."""
    plan = tenant.rate_plan
    records = []
    touched: dict[int, set] = defaultdict(set)
    for started_at, category, amount in rows:
        tts = category == Category.TTS
        billable = 0 if tts else services.billable_seconds(amount, plan.billing_increment_seconds)
        records.append(
            UsageRecord.unscoped.create(
                tenant=tenant,
                category=category,
                started_at=started_at,
                seconds=0 if tts else amount,
                billable_seconds=billable,
                quantity=int(amount) if tts else 0,
                cost=services.cost_of(plan, category, billable, int(amount) if tts else 0),
            )
        )
        touched[tenant.pk].add(services.local_day(tenant, started_at))
    services.refresh_daily(touched)
    return records
