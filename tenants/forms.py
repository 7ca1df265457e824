from django import forms
from django.core.exceptions import ValidationError

from tenants.models import AccessKey, Membership
from tenants.phone import normalize_e164


class PhoneNumberForm(forms.Form):
    e164 = forms.CharField(label="Number (E.164)", max_length=32, help_text="e.g. +14255550123")
    label = forms.CharField(max_length=100, required=False)

    def clean_e164(self) -> str:
        return normalize_e164(self.cleaned_data["e164"])


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class RegenerateKeyForm(forms.Form):
    name = forms.ChoiceField(choices=AccessKey.Name.choices)
    # How long the replaced secret keeps working (tenants.services.MAX_KEY_GRACE at most).
    grace_hours = forms.TypedChoiceField(
        coerce=int,
        initial=24,
        required=False,
        empty_value=0,  # a form without it regenerates at once, as before grace periods
        choices=[(0, "now"), (1, "in 1 hour"), (24, "in 24 hours"), (72, "in 3 days"),
                 (168, "in 7 days")],
    )  # fmt: skip


class KeyRoleForm(forms.Form):
    name = forms.ChoiceField(choices=AccessKey.Name.choices)
    role = forms.ChoiceField(choices=AccessKey._meta.get_field("role").choices)


def form_error(form: forms.Form, exc: ValidationError) -> None:
    """Attach a service-raised ValidationError to the form for re-rendering."""
    for message in exc.messages:
        form.add_error(None, message)


class RetentionForm(forms.Form):
    recording_retention_days = forms.IntegerField(
        label="Keep recordings for (days)", min_value=1, max_value=3650
    )
