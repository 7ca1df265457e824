"""The permission table (tenants.permissions) on every DRF view: the tenant REST API
(`/t/<slug>/api/v1/`), the Call Automation API (`/t/<slug>/calling/`) and the recording
downloads (`/t/<slug>/recordings/`).

A view names what each of its operations does in `permission_actions`: keyed by the
viewset action (`list`, `destroy`, `redeliver`...) or, on a plain APIView, by the
lower-case HTTP method. An operation without an entry is refused (fail closed), and the
role-matrix test walks the URL configuration so such an omission fails the suite.
"""

from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from tenants.permissions import SUSPENDED, Action, allows


def action_for(view: Any, method: str) -> Action | None:
    """The table action of `view` answering `method`; None when the view names none."""
    method = method.lower()
    if method == "options":
        return Action.READ  # DRF's metadata: what the route accepts, no data
    table: dict[str, Action] = getattr(view, "permission_actions", None) or {}
    if getattr(view, "action_map", None) is not None:  # a viewset: keyed by its action
        return table.get(view.action_map.get(method, ""))
    return table.get(method) or (table.get("get") if method == "head" else None)


def has_handler(view: Any, method: str) -> bool:
    """Whether `view` answers `method` at all (if not, DRF's 405 is the right answer)."""
    method = method.lower()
    if getattr(view, "action_map", None) is not None:
        return method in view.action_map
    return method in view.http_method_names and hasattr(view, method)


class TablePermission(permissions.BasePermission):
    """Refuse (403, ACS error shape) a suspended tenant, and a caller whose role, the
    membership's for a portal session or the key's for HMAC, the table does not allow."""

    message = "Access denied."

    def has_permission(self, request: Request, view: Any) -> bool:
        tenant = getattr(request._request, "tenant", None)
        if tenant is None or not (request.user and request.user.is_authenticated):
            return False
        if not tenant.is_active:
            raise exceptions.PermissionDenied(SUSPENDED)
        if request.method.lower() != "options" and not has_handler(view, request.method):
            return True  # DRF answers 405 next; nothing runs
        action = action_for(view, request.method)
        if action is None:
            raise exceptions.PermissionDenied("This operation has no permission entry.")
        role = getattr(request.auth, "role", None)
        if not allows(role, action):
            who = "key" if hasattr(request.user, "key_name") else "role"
            raise exceptions.PermissionDenied(f"This {who} ({role}) cannot do this ({action}).")
        return True
