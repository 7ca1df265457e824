"""The audit log page and its CSV export: who did what to which object, filtered."""

import csv
import json
from collections.abc import Iterator

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from tenants.models import AuditEntry, Tenant
from tenants.portal.access import tenant_page
from tenants.portal.dates import DateRangeForm
from tenants.portal.listing import filter_data, keyset_page

CSV_COLUMNS = ["time", "actor", "action", "target_type", "target_id", "target", "before", "after"]
# Spreadsheets run a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _choices(entries: QuerySet[AuditEntry], field: str) -> list[tuple[str, str]]:
    values = entries.order_by(field).values_list(field, flat=True).distinct()
    return [("", "any"), *((v, v) for v in values)]


class AuditFilterForm(DateRangeForm):
    actor = forms.CharField(required=False, max_length=200)
    action = forms.ChoiceField(required=False)
    target_type = forms.ChoiceField(required=False, label="Target type")

    field_order = ["actor", "action", "target_type", "since", "until"]

    def __init__(self, *args: object, entries: QuerySet[AuditEntry], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = _choices(entries, "action")
        self.fields["target_type"].choices = _choices(entries, "target_type")

    def apply(self, entries: QuerySet[AuditEntry], tenant: Tenant) -> QuerySet[AuditEntry]:
        data = self.cleaned_data
        if data.get("actor"):
            entries = entries.filter(actor_label__icontains=data["actor"])
        if data.get("action"):
            entries = entries.filter(action=data["action"])
        if data.get("target_type"):
            entries = entries.filter(target_type=data["target_type"])
        start, end = self.bounds(tenant)
        if start:
            entries = entries.filter(created_at__gte=start)
        if end:
            entries = entries.filter(created_at__lt=end)
        return entries


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEntry]]:
    """The form and the entries it selects; an invalid filter selects nothing."""
    entries = AuditEntry.objects.for_tenant(request.tenant)
    form = AuditFilterForm(filter_data(request), entries=entries)
    if not form.is_bound:
        return form, entries
    if not form.is_valid():
        return form, entries.none()
    return form, form.apply(entries, request.tenant)


@tenant_page(write=None)
@require_safe
def audit_log(request: HttpRequest) -> HttpResponse:
    form, entries = _filtered(request)
    page = keyset_page(entries, request.GET)
    for entry in page:
        entry.before_json = json.dumps(entry.before)
        entry.after_json = json.dumps(entry.after)
    return render(request, "portal/tenants/audit_log.html", {"form": form, "page": page})


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _rows(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for e in entries.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                e.created_at.isoformat(),
                *map(_cell, [e.actor_label, e.action, e.target_type, e.target_id]),
                _cell(e.target_repr),
                _cell(json.dumps(e.before) if e.before is not None else ""),
                _cell(json.dumps(e.after) if e.after is not None else ""),
            ]
        )


@tenant_page(write=None)
@require_safe
def audit_log_csv(request: HttpRequest) -> HttpResponse:
    """The same entries as the page with the same filters, all of them, oldest first."""
    _, entries = _filtered(request)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(
        _rows(entries.order_by("created_at", "pk")), content_type="text/csv; charset=utf-8"
    )
    filename = f"audit-{request.tenant.slug}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
