"""Forms of the webhooks portal pages."""

from django import forms
from django.db.models import QuerySet

from callauto import outbound
from webhooks.models import Delivery
from webhooks.portal import endpoints


class EventSubscriptionForm(forms.Form):
    """A webhook for call-independent events (Event Grid schema)."""

    EVENT_TYPES = [
        ("Microsoft.Communication.IncomingCall", "IncomingCall"),
    ]

    endpoint_url = forms.URLField(
        label="Endpoint URL",
        max_length=2048,
        assume_scheme="https",
        help_text="Receives IncomingCall events after answering Event Grid's validation.",
    )
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event type.",
    )

    def clean_endpoint_url(self) -> str:
        url = self.cleaned_data["endpoint_url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Must be an http(s) URL.")
        try:
            outbound.check(url)  # the SSRF guard the API's URL fields use, at save time
        except outbound.UnsafeUrl as exc:
            raise forms.ValidationError(f"This URL is not allowed: {exc}") from None
        return url


class DeliveryFilterForm(forms.Form):
    """The deliveries page shows what needs attention unless another state is asked for."""

    url = forms.CharField(required=False, max_length=2048, label="Endpoint")
    event_type = forms.CharField(required=False, max_length=96, label="Event type")
    state = forms.ChoiceField(
        choices=[("", "dead or retrying"), *Delivery.State.choices], required=False
    )
    # One call's callbacks (a call page links here), in every state unless one is asked for.
    call = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def apply(self, rows: QuerySet[Delivery]) -> QuerySet[Delivery]:
        data = self.cleaned_data
        if data.get("call"):
            rows = rows.filter(labels__call=data["call"])
        if data.get("state"):
            rows = rows.filter(state=data["state"])
        elif not data.get("call"):
            rows = rows.filter(state__in=[Delivery.State.DEAD, Delivery.State.RETRYING])
        if data.get("url"):
            rows = rows.filter(endpoints.under(data["url"]))
        if data.get("event_type"):
            # Event types are stored as ACS names them (CallConnected) or in full
            # (Microsoft.Communication.IncomingCall): either spelling finds them.
            short = data["event_type"].removeprefix("Microsoft.Communication.")
            rows = rows.filter(event_type__in=[short, f"Microsoft.Communication.{short}"])
        return rows
