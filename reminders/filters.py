"""Filters of the appointments page: by contact, day, status and plan."""

import re

from django import forms
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from reminders.models import Appointment, Attempt, ReminderPlan
from tenants.models import Tenant
from tenants.portal.dates import DateRangeForm


class AppointmentFilterForm(DateRangeForm):
    contact = forms.CharField(
        required=False, max_length=200, help_text="Name, phone or external id"
    )
    status = forms.ChoiceField(choices=[("", "any"), *Appointment.Status.choices], required=False)
    plan = forms.ModelChoiceField(queryset=ReminderPlan.unscoped.none(), required=False)

    field_order = ["contact", "status", "plan", "since", "until"]

    def __init__(self, *args: object, tenant: Tenant, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        plan = self.fields["plan"]
        plan.queryset = ReminderPlan.objects.for_tenant(tenant).order_by("name")  # type: ignore[attr-defined]
        plan.empty_label = "any"  # type: ignore[attr-defined]

    def apply(self, rows: QuerySet[Appointment]) -> QuerySet[Appointment]:
        """Narrow `rows` by the valid filters; the days are those the appointment starts on
        in the tenant's calendar."""
        data = self.cleaned_data
        if text := data.get("contact", "").strip():
            phone = re.sub(r"[\s()\-.]", "", text)
            rows = rows.filter(
                Q(contact__name__icontains=text)
                | Q(external_id__icontains=text)
                | (Q(contact__phone__icontains=phone) if phone else Q(pk__in=[]))
            )
        if data.get("status"):
            rows = rows.filter(status=data["status"])
        if data.get("plan"):
            rows = rows.filter(plan=data["plan"])
        start, end = self.bounds(self.tenant)
        if start:
            rows = rows.filter(starts_at__gte=start)
        if end:
            rows = rows.filter(starts_at__lt=end)
        return rows


def with_call_counts(rows: QuerySet[Appointment], tenant: Tenant) -> QuerySet[Appointment]:
    """`calls` per appointment as a correlated count: computed for the page's rows only,
    where a joined COUNT would group the whole filtered table before the LIMIT."""
    counted = (
        Attempt.objects.for_tenant(tenant)
        .filter(appointment=OuterRef("pk"))
        .order_by()
        .values("appointment")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return rows.annotate(calls=Coalesce(Subquery(counted), 0))
