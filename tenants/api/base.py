"""Base for the tenant REST API (`/t/<slug>/api/v1/`): tenant-scoped querysets, pages."""

from typing import Any

from django.db import models
from rest_framework import pagination, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tenants.models import Tenant


class Page(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 500


class TenantViewSet(viewsets.GenericViewSet):
    """Querysets come only through `Model.objects.for_tenant(request.tenant)`, so another
    tenant's ids answer 404 (never 403)."""

    pagination_class = Page
    model: type[models.Model]

    @property
    def tenant(self) -> Tenant:
        return self.request.tenant

    def get_queryset(self) -> models.QuerySet:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the shape
            return self.model.unscoped.none()
        return self.model.objects.for_tenant(self.tenant)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "tenant": self.tenant}


class JsonErrors:
    """For API views that render something other than JSON (the OpenAPI schema, the docs
    page): their errors still answer in the ACS JSON shape, as every API error does."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = "application/json"  # type: ignore[attr-defined]
        return response
