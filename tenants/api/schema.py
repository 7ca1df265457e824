"""OpenAPI (drf-spectacular) for the tenant REST API: only `/t/<slug>/api/v1/` routes are
described (the Call Automation API follows the ACS specification instead), with both of
its authentication schemes."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


def tenant_api_only(endpoints: list[tuple], **kwargs: Any) -> list[tuple]:
    """Preprocessing hook: keep the tenant REST API's endpoints."""
    return [endpoint for endpoint in endpoints if "/api/v1/" in endpoint[0]]


class HmacScheme(OpenApiAuthenticationExtension):
    target_class = "callauto.hmac_auth.AcsHmacAuthentication"
    name = "accessKey"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "ACS HMAC-SHA256 with a tenant access key (x-ms-date, "
            "x-ms-content-sha256 and the signed host; see README).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.api.session.MemberSessionAuthentication"
    name = "portalSession"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
