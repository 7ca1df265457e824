"""OpenAPI (drf-spectacular) for the tenant REST API: only `/t/<slug>/api/v1/` routes are
described (the Call Automation API follows the ACS specification instead), with both of
its authentication schemes and the ACS error shape every 4xx answer uses."""

from functools import lru_cache
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.settings import spectacular_settings
from rest_framework.renderers import BaseRenderer


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


ACS_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "target": {"type": "string"},
                        },
                        "required": ["code", "message"],
                    },
                },
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def acs_error_responses(result: dict, **kwargs: Any) -> dict:
    """Postprocessing hook: every operation may answer any 4xx, always in the ACS error
    shape (callauto.errors), so clients and schema checks know what a failure looks like."""
    result.setdefault("components", {}).setdefault("schemas", {})["AcsError"] = ACS_ERROR
    error = {
        "description": "Bad input (400), authentication (401), permission (403), another "
        "tenant's or an unknown id (404), method (405), conflict (409), media type (415).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AcsError"}}},
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("4XX", error)
    return result


@lru_cache(maxsize=16)
def rendered_schema(
    language: str | None, version: str | None, renderer_class: type[BaseRenderer], media_type: str
) -> bytes:
    """The served schema, generated and rendered once per process for each key (~1-2 s a
    time under load, on every GET before). It is the code's, the same for every tenant: it is
    generated without the request, so no caller's, host's or tenant's data can enter it
    (paths keep `{tenant_slug}`). The key holds what does change it: the active language
    (`?lang=`), `?version=` (info.version), the renderer and the negotiated media type
    (`indent=`); the cache is bounded since clients choose those."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS(api_version=version)
    schema = generator.get_schema(request=None, public=spectacular_settings.SERVE_PUBLIC)
    return renderer_class().render(schema, media_type, {})
