"""Portal forms of the notifications app: text in, what notifications.services stores out."""

from typing import Any

from django import forms

from notifications.models import KEYS, Audience, Notification
from tenants.models import PhoneNumber, Tenant


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class AudienceForm(forms.Form):
    name = forms.CharField(max_length=100)
    tags = forms.CharField(required=False, help_text="Comma-separated; any of them matches")
    areas = forms.CharField(
        required=False, label="Areas / zones", help_text="Comma-separated zone codes or areas"
    )
    everyone = forms.BooleanField(required=False, label="Every contact")

    def audience_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "tags": _split(data["tags"]),
            "areas": _split(data["areas"]),
            "everyone": data["everyone"],
        }


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV", help_text="Columns name, phone; optional area, tags, language, timeZone"
    )


class NotificationForm(forms.ModelForm):
    caller_ids = forms.ModelMultipleChoiceField(
        label="Caller-ID pool",
        queryset=PhoneNumber.unscoped.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Used round-robin",
    )
    audio_url = forms.URLField(
        required=False, assume_scheme="https", label="Audio URL",
        help_text="Or a WAV file's URL, played instead of the text",
    )  # fmt: skip
    audio_upload = forms.FileField(
        required=False, label="Or upload a WAV",
        help_text="PCM WAV, at most 1.8 MB and 3 minutes; played instead of the text",
        widget=forms.ClearableFileInput(attrs={"accept": ".wav,audio/wav"}),
    )  # fmt: skip
    remove_audio = forms.BooleanField(required=False, label="Remove the uploaded WAV")
    events_url = forms.URLField(
        required=False, assume_scheme="https", label="Events URL",
        help_text="Notification.Launched / .Acknowledged / .Completed are POSTed here",
    )  # fmt: skip
    scheduled_at = forms.DateTimeField(
        required=False,
        label="Start at",
        help_text="Empty: at launch. YYYY-MM-DD HH:MM in the tenant's zone",
    )

    class Meta:
        model = Notification
        fields = [
            "name",
            "audience",
            "message",
            "audio_url",
            "language",
            "voice",
            "ack_key",
            "replay_key",
            "opt_out_key",
            "max_replays",
            "life_safety",
            "caller_ids",
            "per_number_concurrency",
            "priority",
            "scheduled_at",
            "expires_after_minutes",
            "max_rounds",
            "retry_delay_minutes",
            "hang_up_on_cancel",
            "events_url",
        ]
        widgets = {"message": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "message": "Placeholders: {name}, {area}. The key instructions are added.",
            "life_safety": "Ignores quiet hours and administrative suppressions; opt-outs "
            "are still honoured",
            "priority": "Runs ahead of reminder calls within the tenant's limits",
            "max_rounds": "Rounds in all; the unreached are called again",
            "retry_delay_minutes": "Before round 2; doubles each round",
        }

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["audience"].queryset = Audience.objects.for_tenant(tenant)
        self.fields["caller_ids"].queryset = PhoneNumber.objects.for_tenant(tenant)
        for name in ("ack_key", "replay_key", "opt_out_key"):
            self.fields[name].choices = KEYS
        if self.instance.audio_file:
            self.fields["audio_upload"].label = "Replace the uploaded WAV"
            self.fields["audio_upload"].help_text = (
                f"Now: {self.instance.audio_name} ({self.instance.audio_seconds:.0f} s). "
                + self.fields["audio_upload"].help_text
            )
        else:
            del self.fields["remove_audio"]

    def notification_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
