"""django-csp's middleware, its policy built once instead of on every response (issue 15).

django-csp builds the Content-Security-Policy header from the settings on each response
(twice: the policy and the report-only one, each through dataclasses.asdict and a merge
of every directive): a tenth
of an authenticated read's Python. A response with no per-view policy and no nonce gets
a header that only the settings decide, so we build that once for the settings object in
force (a test's override replaces the object, so it is built again) and let django-csp
itself handle everything else: per-view decorators, nonces, exemptions, excluded paths.
"""

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

# What csp.decorators set on a response to change its policy.
PER_RESPONSE = tuple(
    f"_csp_{kind}{suffix}" for kind in ("config", "update", "replace") for suffix in ("", "_ro")
)


class PolicyOnceCSPMiddleware(CSPMiddleware):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._built_for: object = None
        self._header = ""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        if (
            settings.DEBUG
            or policy is None
            or report_only
            or getattr(request, "_csp_nonce", None) is not None
            or any(getattr(response, name, None) is not None for name in PER_RESPONSE)
            or any(
                getattr(response, name, False) is not False
                for name in ("_csp_exempt", "_csp_exempt_ro")
            )
            or policy.get("EXCLUDE_URL_PREFIXES")
        ):
            return super().process_response(request, response)
        if self._built_for is not policy:
            self._header, self._built_for = build_policy(), policy
        # No report-only policy is configured (else django-csp answered above).
        if self._header and HEADER not in response:
            response[HEADER] = self._header
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
