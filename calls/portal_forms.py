"""Filters of the calls portal pages: query text in, a narrowed queryset out."""

from django import forms
from django.db.models import Exists, OuterRef, QuerySet

from calls import number_search
from calls.models import Call, TranscriptLine
from tenants.models import Tenant
from tenants.portal.dates import DateRangeForm


def _any(choices: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", "any"), *choices]


class CallFilterForm(DateRangeForm):
    state = forms.ChoiceField(choices=_any(Call.State.choices), required=False)
    direction = forms.ChoiceField(choices=_any(Call.Direction.choices), required=False)
    number = forms.CharField(
        required=False,
        max_length=64,
        help_text="Part of a number or an ACS user id (under 3 characters it searches slowly)",
    )

    end_code = forms.IntegerField(
        required=False, min_value=0, max_value=999, label="End code", help_text="e.g. 408"
    )
    transcript = forms.CharField(
        required=False, max_length=200, help_text="Words said in the call (its transcription)"
    )

    field_order = ["state", "direction", "number", "end_code", "transcript", "since", "until"]

    def clean_number(self) -> str:
        return number_search.normalise(self.cleaned_data["number"])

    def apply(self, calls: QuerySet[Call], tenant: Tenant) -> QuerySet[Call]:
        """Narrow `calls` by the valid filters; call after is_valid()."""
        data = self.cleaned_data
        if data.get("state"):
            calls = calls.filter(state=data["state"])
        if data.get("direction"):
            calls = calls.filter(direction=data["direction"])
        if data.get("end_code") is not None:
            calls = calls.filter(end_code=data["end_code"])
        if number := data.get("number"):
            calls = number_search.containing(calls, tenant, number)
        if words := data.get("transcript", "").strip():
            heard = TranscriptLine.objects.for_tenant(tenant).filter(
                call=OuterRef("pk"), text__icontains=words
            )
            calls = calls.filter(Exists(heard))
        start, end = self.bounds(tenant)
        if start:
            calls = calls.filter(created_at__gte=start)
        if end:
            calls = calls.filter(created_at__lt=end)
        return calls
