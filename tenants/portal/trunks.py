"""Portal pages for SIP trunks: the list with each trunk's live status, a new trunk, and
one trunk's settings, numbers and deletion. Admins and owners change them."""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tenants import trunks
from tenants.models import PhoneNumber, Trunk
from tenants.permissions import Action
from tenants.portal.access import tenant_page


class TrunkForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
        help_text="Digest password. Leave empty to keep the stored one.",
    )
    clear_password = forms.BooleanField(required=False, label="Remove the stored password")
    phone_numbers = forms.ModelMultipleChoiceField(
        queryset=PhoneNumber.unscoped.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Numbers whose calls use this trunk",
    )

    class Meta:
        model = Trunk
        fields = list(trunks.FIELDS)

    def __init__(self, *args: Any, tenant: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["phone_numbers"].queryset = PhoneNumber.objects.for_tenant(tenant)
        if self.instance.pk:
            self.initial["phone_numbers"] = list(self.instance.phone_numbers.all())

    def _post_clean(self) -> None:
        pass  # the service validates (and owns the instance); see save_with

    def save_with(self, tenant: Any, actor: Any) -> Trunk | None:
        """Save through the service; its field errors land on the form. None if refused."""
        data = dict(self.cleaned_data)
        password, clear = data.pop("password"), data.pop("clear_password")
        numbers = [phone.e164 for phone in data.pop("phone_numbers")]
        extra: dict[str, Any] = {}
        if clear or password:
            extra["password"] = "" if clear else password
        try:
            return trunks.save_trunk(
                tenant,
                actor=actor,
                trunk=self.instance if self.instance.pk else None,
                phone_numbers=numbers,
                **extra,
                **{name: data[name] for name in trunks.FIELDS},
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                self.add_error(None, exc)
            return None


@tenant_page(write=Action.TRUNKS_MANAGE)
def trunk_list(request: HttpRequest) -> HttpResponse:
    """Every trunk with the gateway's last ping and registration; a form for a new one."""
    tenant = request.tenant
    form = TrunkForm(tenant=tenant, initial={"proxy_port": 5060})
    if request.method == "POST":
        form = TrunkForm(request.POST, tenant=tenant)
        if form.is_valid():
            trunk = form.save_with(tenant, request.user)
            if trunk is not None:
                messages.success(request, f"Trunk {trunk.name} added.")
                return redirect("portal:trunk", tenant_slug=tenant.slug, trunk_id=trunk.pk)
    rows = Trunk.objects.for_tenant(tenant).prefetch_related("phone_numbers")
    return render(request, "portal/tenants/trunks.html", {"trunks": rows, "form": form})


@tenant_page(
    write={
        "save": Action.TRUNKS_MANAGE,
        "delete": Action.TRUNKS_MANAGE,
        "ping": Action.TRUNKS_MANAGE,
    }
)
def trunk_detail(request: HttpRequest, trunk_id: int) -> HttpResponse:
    tenant = request.tenant
    trunk = Trunk.objects.for_tenant(tenant).filter(pk=trunk_id).first()
    if trunk is None:
        raise Http404("No such trunk.")
    form = TrunkForm(instance=trunk, tenant=tenant)
    if request.method == "POST" and "ping" in request.POST:
        trunks.request_ping(tenant, trunk.pk)
        messages.success(
            request, "Ping sent to the gateway carrying this trunk: reload in a moment."
        )
        return redirect("portal:trunk", tenant_slug=tenant.slug, trunk_id=trunk.pk)
    if request.method == "POST" and "delete" in request.POST:
        try:
            trunks.delete_trunk(tenant, trunk.pk, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("portal:trunk", tenant_slug=tenant.slug, trunk_id=trunk.pk)
        messages.success(request, f"Trunk {trunk.name} deleted.")
        return redirect("portal:trunks", tenant_slug=tenant.slug)
    if request.method == "POST":
        form = TrunkForm(request.POST, instance=trunk, tenant=tenant)
        if form.is_valid() and form.save_with(tenant, request.user) is not None:
            messages.success(request, "Trunk saved.")
            return redirect("portal:trunk", tenant_slug=tenant.slug, trunk_id=trunk.pk)
        trunk.refresh_from_db()
    return render(request, "portal/tenants/trunk.html", {"trunk": trunk, "form": form})
