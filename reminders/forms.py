"""Portal forms of the reminders app: text in, the values reminders.services stores out."""

import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from reminders.models import Appointment, Disposition, ReminderPlan
from reminders.services import default_zone
from tenants.models import PhoneNumber, Tenant
from tenants.phone import normalize_e164

WEEKDAYS = list(enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]))
# The dispositions whose retries the form edits (others stop the reminder).
RETRIED = [Disposition.NO_ANSWER, Disposition.BUSY, Disposition.FAILED, Disposition.NO_INPUT]


def _field(disposition: str, part: str) -> str:
    return f"retry_{disposition.replace('-', '_')}_{part}"


class PlanForm(forms.Form):
    name = forms.CharField(max_length=100)
    offsets = forms.CharField(
        label="Reminders (minutes before)", help_text="e.g. 1440, 120 for 24 h and 2 h"
    )
    window_start = forms.TimeField(label="Calls from", help_text="contact's local time, ≥ 08:00")
    window_end = forms.TimeField(label="Calls until", help_text="≤ 21:00")
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    caller_id = forms.ModelChoiceField(label="Caller ID", queryset=PhoneNumber.unscoped.none())
    prompt_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Placeholders: {name}, {when}, {provider}, {location}",
    )
    voice = forms.ChoiceField(choices=[("female", "female"), ("male", "male")])
    language = forms.CharField(max_length=16)
    max_attempts = forms.IntegerField(min_value=1, max_value=10, label="Attempts per reminder")
    office_number = forms.CharField(
        required=False, label="Office number (press 3)", help_text="E.164; empty: no press 3"
    )
    active = forms.BooleanField(required=False)

    def __init__(
        self, *args: Any, tenant: Tenant, plan: ReminderPlan | None = None, **kwargs: Any
    ) -> None:
        plan = plan or ReminderPlan(tenant=tenant)
        initial = {
            "name": plan.name,
            "offsets": ", ".join(str(m) for m in plan.offsets_minutes),
            "window_start": plan.window_start,
            "window_end": plan.window_end,
            "weekdays": plan.weekdays,
            "caller_id": plan.caller_id_id,
            "prompt_template": plan.prompt_template,
            "voice": plan.voice,
            "language": plan.language,
            "max_attempts": plan.max_attempts,
            "office_number": plan.office_number,
            "active": plan.active,
        }
        for disposition in RETRIED:
            rule = (plan.retry_policy or {}).get(disposition) or {}
            initial[_field(disposition, "delay")] = rule.get("delay_minutes", 0)
            initial[_field(disposition, "max")] = rule.get("max_retries", 0)
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["caller_id"].queryset = PhoneNumber.objects.for_tenant(tenant)
        for disposition in RETRIED:
            self.fields[_field(disposition, "delay")] = forms.IntegerField(
                min_value=0, label=f"{disposition}: retry after (min)"
            )
            self.fields[_field(disposition, "max")] = forms.IntegerField(
                min_value=0, max_value=9, label=f"{disposition}: at most (retries)"
            )

    def clean_offsets(self) -> list[int]:
        try:
            return [int(part) for part in self.cleaned_data["offsets"].split(",") if part.strip()]
        except ValueError:
            raise ValidationError("Whole minutes, separated by commas.") from None

    def plan_fields(self) -> dict[str, Any]:
        """The cleaned values as ReminderPlan fields (for services.save_plan)."""
        data = dict(self.cleaned_data)
        policy = {}
        for disposition in RETRIED:
            delay, most = (
                data.pop(_field(disposition, "delay")),
                data.pop(_field(disposition, "max")),
            )
            if most:
                policy[disposition] = {"delay_minutes": delay, "max_retries": most}
        data["offsets_minutes"] = data.pop("offsets")
        data["retry_policy"] = policy
        return data


class ImportForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=ReminderPlan.unscoped.none())
    file = forms.FileField(help_text="CSV, UTF-8, with a header row")
    skip_bad_rows = forms.BooleanField(
        required=False, help_text="Import the good rows even if some are bad"
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plans = ReminderPlan.objects.for_tenant(tenant)
        self.fields["plan"].queryset = plans
        only = list(plans.values_list("pk", flat=True)[:2])
        if len(only) == 1:  # nothing to choose: the only plan is the answer
            self.fields["plan"].initial = only[0]


class AppointmentForm(forms.Form):
    """One appointment typed in the portal: who (a contact found or made by phone), when
    (in the contact's zone), which plan."""

    external_id = forms.CharField(
        max_length=100, required=False, label="External id", help_text="empty: one is made up"
    )
    name = forms.CharField(max_length=200)
    phone = forms.CharField(max_length=32, help_text="E.164, e.g. +14255550123")
    time_zone = forms.CharField(
        max_length=64, required=False, help_text="IANA; empty: the number's, else the tenant's"
    )
    starts_at = forms.DateTimeField(
        label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="in the contact's time zone",
    )  # fmt: skip
    plan = forms.ModelChoiceField(queryset=ReminderPlan.unscoped.none())
    provider = forms.CharField(max_length=200, required=False)
    location = forms.CharField(max_length=200, required=False)

    def __init__(
        self, *args: Any, tenant: Tenant, appointment: Appointment | None = None, **kwargs: Any
    ) -> None:
        initial = {}
        if appointment is not None:
            contact = appointment.contact
            local = appointment.starts_at.astimezone(zoneinfo.ZoneInfo(contact.time_zone))
            initial = {
                "external_id": appointment.external_id,
                "name": contact.name,
                "phone": contact.phone,
                "time_zone": contact.time_zone,
                "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
                "plan": appointment.plan_id,
                "provider": appointment.provider,
                "location": appointment.location,
            }
        super().__init__(*args, initial=initial, **kwargs)
        self.tenant = tenant
        plans = ReminderPlan.objects.for_tenant(tenant)
        self.fields["plan"].queryset = plans
        only = list(plans.values_list("pk", flat=True)[:2])
        if appointment is None and len(only) == 1:
            self.fields["plan"].initial = only[0]
        if appointment is not None:  # the id other systems know it by stays
            self.fields["external_id"].disabled = True

    def clean_phone(self) -> str:
        return normalize_e164(self.cleaned_data["phone"])

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip()
        if zone and zone not in zoneinfo.available_timezones():
            raise ValidationError(f'"{zone}" is not an IANA time zone (e.g. Europe/Berlin).')
        return zone

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "phone" in data and "time_zone" in data:
            data["time_zone"] = data["time_zone"] or default_zone(data["phone"], self.tenant)
            if data.get("starts_at"):
                # Typed as the contact's wall-clock time, whatever zone the page shows.
                wall = timezone.make_naive(data["starts_at"])
                data["starts_at"] = wall.replace(tzinfo=zoneinfo.ZoneInfo(data["time_zone"]))
        return data
