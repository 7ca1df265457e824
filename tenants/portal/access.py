"""Who may see and change a portal page: membership to read, the permission table
(tenants.permissions) to write, and no writes at all while the tenant is suspended."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, QueryDict
from django.utils import timezone

from tenants.models import Membership
from tenants.permissions import TABLE, Action, capabilities, refusal
from tenants.portal.zones import display_zone
from tenants.resolution import membership_for

Role = Membership.Role
View = Callable[..., HttpResponse]
SAFE_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class PageAccess:
    """What a page's writes do: one action, one per POST button (the field that names
    the button, e.g. `{"delete": ..., "hold": ...}`), or None for a read-only page."""

    write: Action | Mapping[str, Action] | None

    def actions(self) -> list[Action]:
        if self.write is None:
            return []
        return list(self.write.values()) if isinstance(self.write, Mapping) else [self.write]

    def actions_for(self, post: QueryDict) -> list[Action]:
        """What a POST may do: each button it names (all must be allowed), or with no
        known button the page's strictest action."""
        if isinstance(self.write, Mapping):
            named = [action for field, action in self.write.items() if field in post]
            return named or [min(self.write.values(), key=lambda action: len(TABLE[action]))]
        assert self.write is not None
        return [self.write]


def tenant_page(*, write: Action | Mapping[str, Action] | None) -> Callable[[View], View]:
    """Wrap a portal view of `/portal/t/<slug>/...`.

    Non-members get 404 (as if the tenant did not exist). Every member reads; a write
    (any method but GET and HEAD) needs the table to allow `write` for the member's
    role and the tenant to be active, else 403; a page with `write=None` answers 405.
    The page's access is kept on the view as `page_access` for the role-matrix test.
    """
    access = PageAccess(write)

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, tenant_slug: str, **kwargs: Any) -> HttpResponse:
            tenant = request.tenant  # type: ignore[attr-defined]
            membership = membership_for(request, tenant)
            request.membership = membership  # type: ignore[attr-defined]
            if request.method not in SAFE_METHODS:
                if access.write is None:
                    return HttpResponseNotAllowed(["GET", "HEAD"])
                for action in access.actions_for(request.POST):
                    reason = refusal(tenant, membership.role, action)
                    if reason:
                        raise PermissionDenied(reason)
            # Every time on the page in one zone: the member's own, else the tenant's.
            with timezone.override(display_zone(request.user, tenant)):
                return view(request, **kwargs)

        wrapper.page_access = access  # type: ignore[attr-defined]
        return wrapper

    return decorator


def permits(request: HttpRequest, action: Action) -> bool:
    """Whether the member viewing this page may perform `action` now (shows its button)."""
    membership = request.membership  # type: ignore[attr-defined]
    return refusal(request.tenant, membership.role, action) is None  # type: ignore[attr-defined]


def page_capabilities(request: HttpRequest) -> dict[str, bool]:
    """`can.<action>` for templates: what the member viewing the page may do now."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return capabilities(getattr(request, "tenant", None), membership.role)
