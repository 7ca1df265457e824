"""The tenant REST API (`/t/<slug>/api/v1/`): HMAC access keys, like /calling/."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.permissions import Action


class TenantView(APIView):
    """Who am I: the tenant an access key belongs to (also the benchmark's baseline)."""

    permission_actions = {"get": Action.READ}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, tenant_slug: str) -> Response:
        tenant = request.tenant
        return Response(
            {
                "slug": tenant.slug,
                "name": tenant.name,
                "status": tenant.status,
                "timeZone": tenant.time_zone,
                "maxConcurrentCalls": tenant.max_concurrent_calls,
                "callsPerSecond": tenant.calls_per_second,
            }
        )
