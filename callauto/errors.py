"""The ACS error format: `{"error": {"code": ..., "message": ..., "details": [...]}}`.

Every answer under the Call Automation API and the tenant API uses it, including
Django-level failures (unknown route, disallowed host, crash), so the SDK always
gets a parseable error. No error carries `Retry-After` except 429 and 503: azure-core
retries any status that has one, which would turn a final 4xx into three resends.
"""

import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

log = logging.getLogger(__name__)

# Paths that speak JSON errors: the Call Automation API and the tenant REST API.
API_PATH = re.compile(r"^/(t/[^/]+/calling|t/[^/]+/api|api)(/|:|$)")


def is_api_path(path: str) -> bool:
    return bool(API_PATH.match(path))


def error_body(code: str, message: str, details: list[dict] | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


class AcsError(exceptions.APIException):
    """An API error with an explicit ACS-style code; subclasses fix the status."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "BadRequest"
    default_detail = "The request is invalid."

    def __init__(self, message: str | None = None, code: str | None = None) -> None:
        super().__init__(detail=message or self.default_detail, code=code or self.default_code)


class BadRequest(AcsError):
    pass


class NotSupported(AcsError):
    default_code = "NotSupported"
    default_detail = "This feature is not supported by callauto."


class NotFound(AcsError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "NotFound"
    default_detail = "The resource was not found."


class Conflict(AcsError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "Conflict"
    default_detail = "The request conflicts with the current state of the resource."


# DRF's own exceptions mapped to stable codes.
_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "InvalidJson",
    exceptions.AuthenticationFailed: "7509",
    exceptions.NotAuthenticated: "7509",
    exceptions.PermissionDenied: "Forbidden",
    exceptions.NotFound: "NotFound",
    exceptions.MethodNotAllowed: "MethodNotAllowed",
    exceptions.NotAcceptable: "NotAcceptable",
    exceptions.UnsupportedMediaType: "UnsupportedMediaType",
    exceptions.Throttled: "TooManyRequests",
}


def _suspicious(exc: SuspiciousOperation) -> AcsError:
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return BadRequest(
            f"The request body is larger than the {limit:,} bytes allowed.",
            code="RequestBodyTooLarge",
        )
    return BadRequest("The request is invalid.")


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """Turn DRF's nested validation errors into (target, code, message) triples."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            nested = isinstance(value, dict | list)
            out += _flatten(value, f"{prefix}[{index}]" if nested else prefix)
        return out
    return [(prefix, getattr(detail, "code", "invalid"), str(detail))]


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: every API error in the ACS shape."""
    if isinstance(exc, Http404):
        exc = NotFound(str(exc) if str(exc) else None)
    if isinstance(exc, SuspiciousOperation):
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many form fields, a Host we do not
        # serve: Django would answer 400 too, but as an HTML page under DEBUG.
        logging.getLogger("django.security").warning("%s: %s", type(exc).__name__, exc)
        exc = _suspicious(exc)
    if not isinstance(exc, exceptions.APIException):
        return None  # Django turns it into a 500 through handler500 below.

    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        headers["Retry-After"] = str(int(exc.wait))
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header

    if isinstance(exc, exceptions.ValidationError):
        triples = _flatten(exc.detail)
        details = [
            {"code": code, "message": message, **({"target": target} if target else {})}
            for target, code, message in triples
        ]
        summary = "; ".join(f"{t}: {m}" if t else m for t, _, m in triples)
        body = error_body("BadRequest", summary or "The request is invalid.", details)
    elif isinstance(exc, AcsError):
        body = error_body(str(exc.detail.code), str(exc.detail))
    else:
        code = next((c for k, c in _DRF_CODES.items() if isinstance(exc, k)), "Error")
        body = error_body(code, str(exc.detail))
    return Response(body, status=exc.status_code, headers=headers)


class JsonErrorsMixin:
    """For API views whose success is not JSON (the docs page's HTML, the schema's YAML):
    their errors are still rendered as JSON in the ACS shape, not by the page's renderer."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = JSONRenderer.media_type  # type: ignore[attr-defined]
        return response


def _json_or(
    request: HttpRequest, status_code: int, code: str, message: str, fallback: Any, **kw: Any
) -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse(error_body(code, message), status=status_code)
    return fallback(request, **kw)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _json_or(
        request,
        400,
        "BadRequest",
        "The request is invalid.",
        defaults.bad_request,
        exception=exception,
    )


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _json_or(
        request,
        403,
        "Forbidden",
        "Access denied.",
        defaults.permission_denied,
        exception=exception,
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _json_or(
        request,
        404,
        "NotFound",
        "No resource at this path.",
        defaults.page_not_found,
        exception=exception,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _json_or(
        request,
        500,
        "InternalError",
        "The server failed to handle the request.",
        defaults.server_error,
    )
