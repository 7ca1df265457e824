"""Views that belong to no app: the API's catch-all and a health check."""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from rest_framework.request import Request
from rest_framework.views import APIView

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
