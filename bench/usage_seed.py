"""Seeding for the usage benchmark, run inside `manage.py shell -c` (Django is set up).

`seed()` makes 100 bench tenants (kept across runs), replaces their usage with 1,000,000
call legs over the last year written by one INSERT ... SELECT per tenant (priced as
metering prices them: rounded up to the plan's increment, at its per-minute rates), then
builds the daily roll-ups through the real roll-up code (`usage.services.refresh_daily`).
It prints one JSON line after JSON_MARKER: timings, row counts, a few tenants' access keys
and a superuser's session cookie for the platform page.
"""

import json
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from bench.config import JSON_MARKER
from tenants import services as tenant_services
from tenants.models import AccessKey, RatePlan, Tenant
from usage import services
from usage.models import DailyUsage, UsageRecord

TENANTS = 100
LEGS = 1_000_000
DAYS = 365
SLUG = "bench-usage-{:03d}"
OPERATOR = "bench-usage-operator"
# A spread of zones, so roll-up days are not all UTC days.
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "America/Los_Angeles"]
KEYS_PRINTED = 10

# Categories by share of legs (60 % outbound PSTN, 20 % inbound, 20 % VoIP), 5 s to 10 min.
LEGS_SQL = """
WITH legs AS (
    SELECT CASE WHEN r < 0.6 THEN 'pstn_outbound' WHEN r < 0.8 THEN 'pstn_inbound'
                ELSE 'voip' END AS category,
           round((5 + random() * 595)::numeric, 3)::float8 AS seconds,
           now() - random() * make_interval(days => %(days)s) AS started_at
    FROM (SELECT random() AS r FROM generate_series(1, %(n)s)) AS g
)
INSERT INTO usage_usagerecord
    (tenant_id, category, source_id, started_at, seconds, billable_seconds, quantity, cost,
     metered_at)
SELECT %(tenant)s, category, '', started_at, seconds, b.billable, 0,
       round(CASE category WHEN 'pstn_outbound' THEN %(out)s WHEN 'pstn_inbound' THEN %(in)s
                           ELSE %(voip)s END * b.billable / 60.0, 6),
       now()
FROM legs, LATERAL (SELECT (ceil(seconds / %(inc)s) * %(inc)s)::int AS billable) AS b
"""


def _emit(payload: dict) -> None:
    print(JSON_MARKER + json.dumps(payload), flush=True)


def _tenants() -> list[Tenant]:
    plan = RatePlan.default()
    tenants = []
    for index in range(TENANTS):
        slug = SLUG.format(index)
        tenant = Tenant.objects.filter(slug=slug).first() or tenant_services.create_tenant(
            f"Bench usage {index:03d}",
            slug,
            actor=None,
            time_zone=ZONES[index % len(ZONES)],
            rate_plan=plan,
        )
        tenants.append(tenant)
    return tenants


def _operator_session() -> str:
    user, _ = get_user_model().objects.get_or_create(
        username=OPERATOR, defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def seed() -> None:
    started = time.monotonic()
    tenants = _tenants()
    ids = [t.pk for t in tenants]
    with transaction.atomic():
        UsageRecord.unscoped.filter(tenant_id__in=ids).delete()
        DailyUsage.unscoped.filter(tenant_id__in=ids).delete()
    per_tenant = LEGS // TENANTS
    with connection.cursor() as cursor:
        for tenant in tenants:
            plan = tenant.rate_plan
            cursor.execute(
                LEGS_SQL,
                {
                    "tenant": tenant.pk,
                    "n": per_tenant,
                    "days": DAYS,
                    "out": plan.pstn_outbound_per_minute,
                    "in": plan.pstn_inbound_per_minute,
                    "voip": plan.voip_per_minute,
                    "inc": plan.billing_increment_seconds,
                },
            )
    inserted = time.monotonic()
    today = timezone.now().date()
    days = {today - timedelta(days=n) for n in range(-1, DAYS + 2)}
    rollups = services.refresh_daily({tenant.pk: days for tenant in tenants})
    rolled = time.monotonic()
    # What autovacuum would have done by now: statistics, and the visibility map that
    # lets the platform report read the covering index alone.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE usage_usagerecord")
        cursor.execute("VACUUM ANALYZE usage_dailyusage")
    keys = {
        t.slug: AccessKey.objects.for_tenant(t).get(name=AccessKey.Name.PRIMARY).secret
        for t in tenants[:KEYS_PRINTED]
    }
    _emit(
        {
            "tenants": len(tenants),
            "legs": UsageRecord.unscoped.filter(tenant_id__in=ids).count(),
            "rollups": rollups,
            "all_rollups": DailyUsage.unscoped.count(),
            "insert_seconds": round(inserted - started, 1),
            "rollup_seconds": round(rolled - inserted, 1),
            "keys": keys,
            "session": _operator_session(),
            "session_cookie": settings.SESSION_COOKIE_NAME,
        }
    )
