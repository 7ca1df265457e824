"""The usage API's query and answer shapes."""

from datetime import date, timedelta
from typing import Any

from rest_framework import serializers

from usage.reports import DAY, GROUPS, Figures, TenantReport, default_period

MAX_DAYS = 3 * 366  # a bound on how much one request may aggregate


class UsageQuerySerializer(serializers.Serializer):
    """`from` and `to` (ISO dates, both included) and `group` (day or month); `from` is
    a keyword in Python, hence fields built here rather than declared."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "from": serializers.DateField(required=False),
            "to": serializers.DateField(required=False),
            "group": serializers.ChoiceField(choices=GROUPS, required=False, default=DAY),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Fill in the defaults (this month so far, in the tenant's time zone; a month
        from `from`, or the month of `to`) and bound the span."""
        start: date | None = attrs.get("from")
        end: date | None = attrs.get("to")
        if start is None and end is None:
            start, end = default_period(self.context["tenant"])
        elif start is None:
            start = end.replace(day=1)
        elif end is None:
            # A month from `from`, but no later than the last day a date can be.
            end = start + timedelta(days=min(30, (date.max - start).days))
        if start > end:
            raise serializers.ValidationError({"to": "must not be before from."})
        if (end - start).days >= MAX_DAYS:
            raise serializers.ValidationError({"to": f"a report covers at most {MAX_DAYS} days."})
        return {**attrs, "from": start, "to": end}


def figures(f: Figures) -> dict[str, Any]:
    return {
        "count": f.count,
        "seconds": round(f.seconds, 3),
        "billableSeconds": f.billable_seconds,
        "quantity": f.quantity,
        "cost": str(f.cost),
    }


def report_body(report: TenantReport) -> dict[str, Any]:
    return {
        "tenant": report.tenant.slug,
        "currency": report.currency,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "group": report.group,
        "rows": [
            {"period": line.period.isoformat(), "category": line.category, **figures(line.figures)}
            for line in report.lines
        ],
        "byCategory": {name: figures(f) for name, f in report.by_category.items()},
        "total": figures(report.total),
    }
