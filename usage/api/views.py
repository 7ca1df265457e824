"""`/t/<slug>/api/v1/usage`: the tenant's usage and cost, HMAC-authenticated."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.permissions import Action
from usage import reports
from usage.api.serializers import UsageQuerySerializer, report_body


class UsageView(APIView):
    """Usage per day or month and per category, from the daily roll-ups.

    Query: `from`, `to` (ISO dates in the tenant's time zone, both included; by default
    this month so far) and `group` (`day` or `month`). Bad input answers 400 with details.
    """

    permission_actions = {"get": Action.READ}

    @extend_schema(parameters=[UsageQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, tenant_slug: str) -> Response:
        query = UsageQuerySerializer(data=request.query_params, context={"tenant": request.tenant})
        query.is_valid(raise_exception=True)
        period = query.validated_data
        report = reports.tenant_usage(
            request.tenant, start=period["from"], end=period["to"], group=period["group"]
        )
        return Response(report_body(report))
