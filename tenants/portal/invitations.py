"""The invitation link's pages: accept it signed in, or sign up on it and join at once.

These pages name no tenant in their URL (the link does): anyone may open one, and
only the link's holder, acting in their own account, can accept it.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tenants import invitations
from tenants.invitations import InvalidInvitation, TenantSuspended
from tenants.models import Invitation


def _invalid(request: HttpRequest, token: str) -> HttpResponse:
    context = {"invalid": True, "token": token}
    return render(request, "portal/invitations/invitation.html", context, status=404)


@require_http_methods(["GET", "HEAD", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Show what the link offers; a signed-in user POSTs to accept it."""
    try:
        found = invitations.find_invitation(token)
    except InvalidInvitation:
        return _invalid(request, token)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return _accept(request, token)
    context = {"invitation": found, "token": token}
    return render(request, "portal/invitations/invitation.html", context)


def _accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        membership, joined = invitations.accept_invitation(token, request.user)
    except InvalidInvitation:
        return _invalid(request, token)
    except TenantSuspended as exc:
        messages.error(request, str(exc))
        return redirect("portal:invitation", token=token)
    tenant = membership.tenant
    if joined:
        messages.success(request, f"Welcome to {tenant.name}; you are {membership.role}.")
    else:
        messages.info(request, f"You already belong to {tenant.name} ({membership.role}).")
    return redirect("portal:dashboard", tenant_slug=tenant.slug)


class SignUpForm(UserCreationForm):
    """A username and a password; the e-mail address is the invitation's."""

    def __init__(self, *args: object, invitation: Invitation, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.instance.email = invitation.email  # the password validators compare with it


@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest, token: str) -> HttpResponse:
    """Create an account on an invitation link and accept it in the same step (there is
    no sign-up without an invitation)."""
    if request.user.is_authenticated:
        return redirect("portal:invitation", token=token)
    try:
        found = invitations.find_invitation(token)
    except InvalidInvitation:
        return _invalid(request, token)
    form = SignUpForm(request.POST or None, invitation=found)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
                invitations.accept_invitation(token, user)
        except InvalidInvitation:
            return _invalid(request, token)
        except TenantSuspended as exc:
            form.add_error(None, str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {found.tenant.name}.")
            return redirect("portal:dashboard", tenant_slug=found.tenant.slug)
    context = {"invitation": found, "token": token, "form": form}
    return render(request, "portal/invitations/signup.html", context)
