"""Views that belong to no app: the API's catch-all and a health check."""

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, JsonResponse
from rest_framework.request import Request
from rest_framework.views import APIView

from callauto.demo_info import demo_info
from callauto.errors import NotFound
from tenants.permissions import Action


class UnknownCallingRoute(APIView):
    """Any path under /calling/ that no route claims: an authenticated 404, ACS-shaped.

    Authenticating first means a wrong key still reads as 401 everywhere, as ACS does.
    """

    # Any key may learn that a route does not exist (no permission entry is needed to 404).
    permission_actions = dict.fromkeys(["get", "post", "put", "patch", "delete"], Action.READ)

    def _not_found(self, request: Request, *args: object, **kwargs: object) -> None:
        raise NotFound(f"No Call Automation operation at {request.path}.", code="UnknownRoute")

    get = post = put = patch = delete = _not_found


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


class LoginView(auth_views.LoginView):
    """Django's login page; under DEBUG it also shows the demo's logins and connection
    string (callauto.demo_info), so a first run never depends on scrolled-away output."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if settings.DEBUG:
            context["demo"] = demo_info()
        return context
