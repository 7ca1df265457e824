from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from tenants.resolution import resolve_tenant


class TenantMiddleware:
    """Sets `request.tenant` for every view whose URL names a tenant."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.tenant = None  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable, args: tuple, kwargs: dict[str, Any]
    ) -> None:
        request.tenant = resolve_tenant(request)  # type: ignore[attr-defined]
