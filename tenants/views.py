"""Portal pages for a tenant's settings: keys, phone numbers, members, rate plan."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime

from tenants import forms, invitations, services
from tenants.models import AccessKey, Invitation, Membership, PhoneNumber
from tenants.permissions import Action
from tenants.portal.access import permits, tenant_page


@tenant_page(write=Action.KEYS_MANAGE)
def access_keys(request: HttpRequest) -> HttpResponse:
    """Show connection strings to admins and owners; owners regenerate keys and set what
    each key may do (its role)."""
    tenant = request.tenant
    if request.method == "POST" and "role" in request.POST:
        role_form = forms.KeyRoleForm(request.POST)
        if role_form.is_valid():
            name, role = role_form.cleaned_data["name"], role_form.cleaned_data["role"]
            try:
                services.set_access_key_role(tenant, name, role, actor=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"The {name} key now acts as {role}.")
                return redirect("portal:access_keys", tenant_slug=tenant.slug)
        else:
            messages.error(request, "Choose a key and one of the roles a key can have.")
    elif request.method == "POST":
        form = forms.RegenerateKeyForm(request.POST)
        if form.is_valid():
            name, hours = form.cleaned_data["name"], form.cleaned_data["grace_hours"]
            key = services.regenerate_access_key(
                tenant, name, actor=request.user, grace=timedelta(hours=hours)
            )
            expiry = "its old secret no longer works"
            if key.previous_expires_at:
                until = date_format(localtime(key.previous_expires_at), "Y-m-d H:i T")
                expiry = f"its old secret works until {until}"
            messages.success(
                request, f"The {name} key was regenerated; {expiry}. The other key still works."
            )
            return redirect("portal:access_keys", tenant_slug=tenant.slug)
        messages.error(request, "Choose the primary or the secondary key and a grace period.")
    can_see = permits(request, Action.KEYS_VIEW)
    keys = [
        {
            "name": key.name,
            "role": key.role,
            "rotated_at": key.rotated_at,
            "previous_expires_at": key.previous_expires_at,
            "connection_string": tenant.connection_string(key) if can_see else None,
        }
        for key in AccessKey.objects.for_tenant(tenant).order_by("name")
    ]
    return render(
        request,
        "portal/tenants/access_keys.html",
        {
            "keys": keys,
            "can_see": can_see,
            "key_roles": forms.KeyRoleForm.base_fields["role"].choices,
            "grace_choices": forms.RegenerateKeyForm.base_fields["grace_hours"].choices,
            "now": timezone.now(),
        },
    )


@tenant_page(write=Action.NUMBERS_MANAGE)
def phone_numbers(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    form = forms.PhoneNumberForm()
    if request.method == "POST" and "remove" in request.POST:
        try:
            services.remove_phone_number(tenant, int(request.POST["remove"]), actor=request.user)
        except (ValueError, PhoneNumber.DoesNotExist):
            raise Http404("No such number.") from None
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Number removed.")
        return redirect("portal:phone_numbers", tenant_slug=tenant.slug)
    if request.method == "POST":
        form = forms.PhoneNumberForm(request.POST)
        if form.is_valid():
            try:
                services.add_phone_number(
                    tenant,
                    form.cleaned_data["e164"],
                    label=form.cleaned_data["label"],
                    actor=request.user,
                )
            except ValidationError as exc:
                forms.form_error(form, exc)
            else:
                messages.success(request, f"{form.cleaned_data['e164']} added.")
                return redirect("portal:phone_numbers", tenant_slug=tenant.slug)
    numbers = PhoneNumber.objects.for_tenant(tenant)
    return render(request, "portal/tenants/phone_numbers.html", {"numbers": numbers, "form": form})


@tenant_page(write=Action.MEMBERS_MANAGE)
def members(request: HttpRequest) -> HttpResponse:
    """Members and pending invitations; owners invite by e-mail, revoke, change roles and
    remove. Inviting answers the same whether or not the address has an account."""
    tenant = request.tenant
    form = forms.InviteForm()
    if request.method == "POST":
        try:
            if "remove" in request.POST:
                services.remove_member(tenant, int(request.POST["remove"]), actor=request.user)
                messages.success(request, "Member removed.")
            elif "revoke" in request.POST:
                invitations.revoke_invitation(
                    tenant, int(request.POST["revoke"]), actor=request.user
                )
                messages.success(request, "Invitation revoked; its link no longer works.")
            elif "change" in request.POST:
                role_form = forms.RoleForm(request.POST)
                if not role_form.is_valid():
                    raise ValidationError("Choose a valid role.")
                services.change_member_role(
                    tenant,
                    int(request.POST["change"]),
                    role_form.cleaned_data["role"],
                    actor=request.user,
                )
                messages.success(request, "Role changed.")
            else:
                form = forms.InviteForm(request.POST)
                if not form.is_valid():
                    raise ValidationError("Give an e-mail address and a role.")
                invitation, link = invitations.invite_member(
                    tenant, form.cleaned_data["email"], form.cleaned_data["role"],
                    actor=request.user,
                )  # fmt: skip
                # There may be no mail server: the inviter can pass the link on themselves.
                messages.success(
                    request,
                    f"Invitation sent to {invitation.email} as {invitation.role}. If it does "
                    f"not arrive, send them this link (it works once, for "
                    f"{settings.INVITATION_TTL_DAYS} days): {link}",
                )
        except (ValueError, Membership.DoesNotExist, Invitation.DoesNotExist):
            raise Http404("No such member or invitation.") from None
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            return redirect("portal:members", tenant_slug=tenant.slug)
    rows = Membership.objects.for_tenant(tenant).select_related("user").order_by("user__username")
    return render(
        request,
        "portal/tenants/members.html",
        {
            "members": rows,
            "invitations": invitations.pending_invitations(tenant),
            "form": form,
            "roles": Membership.Role.choices,
        },
    )


# Rates are set by the platform's operators in /admin/: no tenant role has RATES_CHANGE.
@tenant_page(write=Action.RATES_CHANGE)
def rate_plan(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/tenants/rate_plan.html", {"plan": request.tenant.rate_plan})


@tenant_page(write=Action.SETTINGS_MANAGE)
def retention(request: HttpRequest) -> HttpResponse:
    """How long recordings are kept; admins change it."""
    tenant = request.tenant
    form = forms.RetentionForm(
        initial={"recording_retention_days": tenant.recording_retention_days}
    )
    if request.method == "POST":
        form = forms.RetentionForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["recording_retention_days"]
            services.set_recording_retention(tenant, days, actor=request.user)
            messages.success(request, f"Recordings are now kept {days} days.")
            return redirect("portal:retention", tenant_slug=tenant.slug)
    return render(
        request,
        "portal/tenants/retention.html",
        {"form": form, "can_change": permits(request, Action.SETTINGS_MANAGE)},
    )
