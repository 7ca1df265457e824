"""Usage reports, read from the daily roll-ups only (never the raw records), so a
month of a busy tenant or 30 days of every tenant stays a small aggregate."""

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from tenants.models import Tenant
from usage.models import Category, DailyUsage, UsageRecord

DAY = "day"
MONTH = "month"
GROUPS = [DAY, MONTH]
COST_PLACES = Decimal("0.000001")
SUMS = {
    "count": Sum("count"),
    "seconds": Sum("seconds"),
    "billable_seconds": Sum("billable_seconds"),
    "quantity": Sum("quantity"),
    "cost": Sum("cost"),
}


@dataclass
class Figures:
    count: int = 0
    seconds: float = 0.0
    billable_seconds: int = 0
    quantity: int = 0
    cost: Decimal = field(default_factory=Decimal)

    def add(self, other: "Figures") -> None:
        self.count += other.count
        self.seconds += other.seconds
        self.billable_seconds += other.billable_seconds
        self.quantity += other.quantity
        self.cost += other.cost

    @property
    def billable_minutes(self) -> Decimal:
        return (Decimal(self.billable_seconds) / 60).quantize(Decimal("0.01"))

    @classmethod
    def of(cls, row: dict[str, Any]) -> "Figures":
        return cls(
            count=row["count"] or 0,
            seconds=row["seconds"] or 0.0,
            billable_seconds=row["billable_seconds"] or 0,
            quantity=row["quantity"] or 0,
            # SUM over numeric widens the scale; keep the records' own.
            cost=(row["cost"] or Decimal(0)).quantize(COST_PLACES),
        )


@dataclass
class Line:
    period: date
    category: str
    figures: Figures

    @property
    def category_label(self) -> str:
        return Category(self.category).label


@dataclass
class TenantReport:
    tenant: Tenant
    start: date
    end: date
    group: str
    lines: list[Line]
    by_category: dict[str, Figures]
    total: Figures

    @property
    def currency(self) -> str:
        return self.tenant.rate_plan.currency

    def by_period(self) -> list[tuple[date, dict[str, Figures]]]:
        """Every period from start to end, in order, each with its figures per category;
        a period without usage is there, empty, so a chart's time axis has no holes."""
        periods: dict[date, dict[str, Figures]] = {
            period: {} for period in periods_between(self.start, self.end, self.group)
        }
        for line in self.lines:
            periods.setdefault(line.period, {})[line.category] = line.figures
        return list(periods.items())


def periods_between(start: date, end: date, group: str) -> list[date]:
    """The first day of each day or month from `start` to `end`."""
    if group == MONTH:
        months = []
        current = start.replace(day=1)
        while current <= end:
            months.append(current)
            current = (current + timedelta(days=32)).replace(day=1)
        return months
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def today_for(tenant: Tenant) -> date:
    return timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(tenant.time_zone)).date()


def default_period(tenant: Tenant) -> tuple[date, date]:
    """This month so far, in the tenant's time zone."""
    today = today_for(tenant)
    return today.replace(day=1), today


def _grouped(rows: QuerySet, group: str) -> QuerySet:
    period = TruncMonth("day") if group == MONTH else F("day")
    return rows.annotate(period=period).values("period", "category")


def tenant_usage(tenant: Tenant, *, start: date, end: date, group: str = DAY) -> TenantReport:
    """The tenant's usage from `start` to `end` (both included, its own days), per day
    or per month and per category, with cost in its plan's currency."""
    rows = DailyUsage.objects.for_tenant(tenant).filter(day__gte=start, day__lte=end)
    lines = [
        Line(period=row["period"], category=row["category"], figures=Figures.of(row))
        for row in _grouped(rows, group).annotate(**SUMS).order_by("period", "category")
    ]
    by_category: dict[str, Figures] = {}
    total = Figures()
    for line in lines:
        by_category.setdefault(line.category, Figures()).add(line.figures)
        total.add(line.figures)
    return TenantReport(tenant, start, end, group, lines, dict(sorted(by_category.items())), total)


@dataclass
class TenantRow:
    tenant: Tenant
    total: Figures

    @property
    def currency(self) -> str:
        return self.tenant.rate_plan.currency


@dataclass
class PlatformReport:
    start: date
    end: date
    tenants: list[TenantRow]
    # Cost cannot be added across currencies; minutes can.
    cost_by_currency: dict[str, Decimal]
    minutes_by_day: list[tuple[date, dict[str, Figures]]]
    total: Figures


def platform_usage(*, start: date, end: date) -> PlatformReport:
    """Every tenant's usage from `start` to `end`: per tenant, and per day and category
    for the chart. For platform operators only (the caller checks)."""
    rows = DailyUsage.unscoped.filter(day__gte=start, day__lte=end)
    per_tenant = list(rows.values("tenant_id").annotate(**SUMS).order_by())
    tenants = (
        Tenant.objects.select_related("rate_plan")
        .only("name", "slug", "rate_plan__currency")
        .in_bulk([row["tenant_id"] for row in per_tenant])
    )
    table: dict[int, TenantRow] = {}
    total = Figures()
    for row in per_tenant:
        figures = Figures.of(row)
        table[row["tenant_id"]] = TenantRow(tenants[row["tenant_id"]], figures)
        total.add(figures)
    cost_by_currency: dict[str, Decimal] = {}
    for entry in table.values():
        cost_by_currency[entry.currency] = (
            cost_by_currency.get(entry.currency, Decimal(0)) + entry.total.cost
        )
    days: dict[date, dict[str, Figures]] = {day: {} for day in periods_between(start, end, DAY)}
    for row in rows.values("day", "category").annotate(**SUMS).order_by("day", "category"):
        days.setdefault(row["day"], {})[row["category"]] = Figures.of(row)
    ordered = sorted(table.values(), key=lambda r: (-r.total.billable_seconds, r.tenant.name))
    return PlatformReport(
        start, end, ordered, dict(sorted(cost_by_currency.items())), list(days.items()), total
    )


def last_days(days: int) -> tuple[date, date]:
    """The last `days` UTC days, today included (the platform's own calendar)."""
    today = timezone.now().date()
    return today - timedelta(days=days - 1), today


def call_usage(tenant: Tenant, call_id: int) -> Figures:
    """What one call cost so far: its metered legs and text to speech (for a call's page;
    legs still in the call are not metered yet)."""
    rows = UsageRecord.objects.for_tenant(tenant).filter(call_id=call_id)
    return Figures.of(
        rows.aggregate(
            count=Count("pk"),
            seconds=Sum("seconds"),
            billable_seconds=Sum("billable_seconds"),
            quantity=Sum("quantity"),
            cost=Sum("cost"),
        )
    )
