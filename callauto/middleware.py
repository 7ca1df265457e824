"""Request guards for the two APIs (/calling and /api/v1) that no view should have to repeat."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from callauto.errors import error_body, is_api_path


class ApiQueryGuard:
    """Refuse an API request whose query string holds a NUL character (`%00`), with a 400
    in the ACS shape. PostgreSQL text cannot hold NUL, so a filter on one failed in the
    database driver (a 500) wherever a view passed the value on unchecked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path) and any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            body = error_body("BadRequest", "Query parameters must not contain NUL characters.")
            return JsonResponse(body, status=400)
        return self.get_response(request)
