"""Filters of the recordings page: by day, by call, by a number in the call."""

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet

from calls import number_search
from calls.models import Participant
from recordings.models import Recording
from tenants.models import Tenant
from tenants.portal.dates import DateRangeForm


class RecordingFilterForm(DateRangeForm):
    call = forms.CharField(
        required=False, max_length=64, label="Call", help_text="serverCallId or call number"
    )
    number = forms.CharField(
        required=False, max_length=64, help_text="Part of a number or an ACS user id in the call"
    )

    field_order = ["call", "number", "since", "until"]

    def clean_call(self) -> str:
        return self.cleaned_data["call"].strip()

    def clean_number(self) -> str:
        return number_search.normalise(self.cleaned_data["number"])

    def apply(self, rows: QuerySet[Recording], tenant: Tenant) -> QuerySet[Recording]:
        """Narrow `rows` (the tenant's recordings) by the valid filters."""
        data = self.cleaned_data
        if call := data.get("call"):
            # The call page links here by serverCallId; people also type the portal's
            # call number (its URL's). Either way only this tenant's rows are searched.
            by_id = Q(call__server_call_id=call)
            rows = rows.filter(
                by_id | Q(call_id=int(call)) if call.isdigit() and len(call) < 19 else by_id
            )
        if number := data.get("number"):
            legs = Participant.objects.for_tenant(tenant).filter(
                call=OuterRef("call_id"), raw_id__icontains=number
            )
            rows = rows.filter(
                Q(call__source_caller_id__icontains=number)
                | Q(call__to_number__icontains=number)
                | Q(Exists(legs))
            )
        start, end = self.bounds(tenant)
        if start:
            rows = rows.filter(started_at__gte=start)
        if end:
            rows = rows.filter(started_at__lt=end)
        return rows


def waiting_for_files(recordings: list[Recording]) -> bool:
    """Whether a recording shown is still to get its file (live, or being written): a
    page showing one call's recordings refreshes itself until then."""
    return any(r.state != Recording.State.FAILED and not r.chunks.all() for r in recordings)
