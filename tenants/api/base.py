"""Base for the tenant REST API (`/t/<slug>/api/v1/`): tenant-scoped querysets, pages."""

from typing import Any

from django.db import models
from rest_framework import pagination, viewsets

from callauto.errors import NotFound
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

    def get_object(self) -> models.Model:
        # PostgreSQL text cannot hold NUL, so no stored id has one: don't ask the database
        # (its driver refuses the query: a 500).
        if "\x00" in str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")):
            raise NotFound()
        return super().get_object()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "tenant": self.tenant}
