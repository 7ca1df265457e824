"""Who may see and change a portal page: membership for reading, a role for writing."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from tenants.models import Membership
from tenants.resolution import membership_for

Role = Membership.Role
View = Callable[..., HttpResponse]


def tenant_page(*, write_role: str = Role.ADMIN) -> Callable[[View], View]:
    """Wrap a portal view of `/portal/t/<slug>/...`.

    Non-members get 404 (as if the tenant did not exist); members below `write_role`
    may GET but their POSTs are refused with 403.
    """

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, tenant_slug: str, **kwargs: Any) -> HttpResponse:
            membership = membership_for(request, request.tenant)  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            if request.method not in ("GET", "HEAD") and not membership.has_role(write_role):
                raise PermissionDenied(f"Your role ({membership.role}) cannot change this.")
            return view(request, **kwargs)

        return wrapper

    return decorator
