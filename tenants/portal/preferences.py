"""A member's own portal settings (their time zone), which any member may change."""

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tenants.models import UserPreference
from tenants.permissions import Action
from tenants.portal.access import tenant_page
from tenants.portal.zones import zone_choices


class PreferenceForm(forms.Form):
    time_zone = forms.ChoiceField(required=False)

    def __init__(self, *args: object, tenant_zone: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["time_zone"].choices = [
            ("", f"the tenant's ({tenant_zone})"),
            *zone_choices(),
        ]


@tenant_page(write=Action.PREFERENCES_EDIT)
def my_preferences(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    current = UserPreference.objects.filter(user=request.user).first()
    form = PreferenceForm(
        request.POST or None,
        tenant_zone=tenant.time_zone,
        initial={"time_zone": current.time_zone if current else ""},
    )
    if request.method == "POST" and form.is_valid():
        zone = form.cleaned_data["time_zone"]
        UserPreference.objects.update_or_create(user=request.user, defaults={"time_zone": zone})
        messages.success(request, f"Times are now shown in {zone or tenant.time_zone}.")
        return redirect("portal:my_preferences", tenant_slug=tenant.slug)
    return render(request, "portal/tenants/preferences.html", {"form": form})
