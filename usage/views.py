"""Portal pages of usage and cost: a tenant's report (page and CSV) and the platform
operators' report across every tenant."""

import csv
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from tenants.models import Tenant
from tenants.portal.access import tenant_page
from usage import charts, reports
from usage.api.serializers import UsageQuerySerializer
from usage.models import Category

PLATFORM_DAYS = [7, 30, 90]


def _tenant_report(request: HttpRequest, tenant: Tenant) -> reports.TenantReport:
    """The report the query asks for; bad input is said on the page, and the default
    period shown instead."""
    query = UsageQuerySerializer(data=request.GET, context={"tenant": tenant})
    if not query.is_valid():
        for field, errors in query.errors.items():
            messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
        query = UsageQuerySerializer(data={}, context={"tenant": tenant})
        query.is_valid(raise_exception=True)
    period = query.validated_data
    return reports.tenant_usage(
        tenant, start=period["from"], end=period["to"], group=period["group"]
    )


def _period_label(group: str):
    def label(period: date) -> str:
        return period.strftime("%Y-%m") if group == reports.MONTH else period.strftime("%m-%d")

    return label


@tenant_page(write=None)
def usage(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    csv_url = reverse("portal:usage_csv", kwargs={"tenant_slug": tenant.slug})
    return _report_page(request, _tenant_report(request, tenant), csv_url)


def _report_page(request: HttpRequest, report: reports.TenantReport, csv_url: str) -> HttpResponse:
    chart = charts.stacked_bars(
        report.by_period(),
        lambda f: f.cost,
        title=f"Cost per {report.group} in {report.currency}",
        unit=report.currency,
        label=_period_label(report.group),
    )
    context = {
        "report": report,
        "chart": chart,
        "legend": charts.legend(),
        "groups": reports.GROUPS,
        "categories": Category,
        "csv_url": csv_url,
    }
    return render(request, "portal/usage/usage.html", context)


CSV_COLUMNS = [
    "period",
    "category",
    # What a row counts depends on its category: each unit has its own column, so a
    # column's total never adds calls to speech requests or recording files.
    "calls",
    "tts_requests",
    "recording_files",
    "seconds",
    "billable_seconds",
    "tts_characters",
    "cost",
    "currency",
]
UNIT_COLUMN = {
    Category.PSTN_OUTBOUND: 0,
    Category.PSTN_INBOUND: 0,
    Category.VOIP: 0,
    Category.TTS: 1,
    Category.RECORDING: 2,
}


@tenant_page(write=None)
def usage_csv(request: HttpRequest) -> HttpResponse:
    return _csv_response(_tenant_report(request, request.tenant))


def _csv_response(report: reports.TenantReport) -> HttpResponse:
    """The report as CSV, one row per period and category, then a totals row."""
    name = f"usage-{report.tenant.slug}-{report.start}-{report.end}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    totals = [0, 0, 0]
    for line in report.lines:
        counts = _unit_counts(line.category, line.figures.count)
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        writer.writerow(
            _csv_row(line.period.isoformat(), line.category, counts, line.figures, report)
        )
    writer.writerow(_csv_row("total", "", totals, report.total, report))
    return response


def _unit_counts(category: str, count: int) -> list[int]:
    counts = [0, 0, 0]
    counts[UNIT_COLUMN.get(category, 0)] = count
    return counts


def _csv_row(
    period: str,
    category: str,
    counts: list[int],
    f: reports.Figures,
    report: reports.TenantReport,
) -> list[object]:
    return [
        period,
        category,
        *counts,
        f"{f.seconds:.3f}",
        f.billable_seconds,
        f.quantity,
        f.cost,
        report.currency,
    ]


def platform_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Platform operators (superusers) only; anyone else gets 404, as for a page that
    does not exist."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_superuser:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


@platform_page
def platform_usage(request: HttpRequest) -> HttpResponse:
    """Every tenant's usage over the last 7, 30 or 90 days."""
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    if days not in PLATFORM_DAYS:
        days = 30
    start, end = reports.last_days(days)
    report = reports.platform_usage(start=start, end=end)
    chart = charts.stacked_bars(
        report.minutes_by_day,
        lambda f: f.billable_seconds / 60,
        title="Billable minutes per day, all tenants",
        unit="minutes",
        label=_period_label(reports.DAY),
    )
    context = {
        "report": report,
        "chart": chart,
        "legend": charts.legend(),
        "days": days,
        "day_choices": PLATFORM_DAYS,
        "categories": Category,
    }
    return render(request, "portal/usage/platform.html", context)


@platform_page
def platform_tenant_usage(request: HttpRequest, slug: str) -> HttpResponse:
    """One tenant's report, for an operator who need not be a member of it."""
    tenant = get_object_or_404(Tenant.objects.select_related("rate_plan"), slug=slug)
    csv_url = reverse("portal:platform_tenant_usage_csv", kwargs={"slug": slug})
    return _report_page(request, _tenant_report(request, tenant), csv_url)


@platform_page
def platform_tenant_usage_csv(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant.objects.select_related("rate_plan"), slug=slug)
    return _csv_response(_tenant_report(request, tenant))
