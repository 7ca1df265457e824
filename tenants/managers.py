"""The fail-closed tenant scope every tenant-owned model uses.

`Model.objects` refuses to run a query until it is scoped with `for_tenant(tenant)`,
so a view that forgets the tenant crashes in tests instead of leaking another
tenant's rows. `Model.unscoped` (the default manager, so admin, related managers,
migrations and maintenance code work) sees everything and is for platform code only.
"""

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from tenants.models import Tenant


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried without naming the tenant."""


class TenantManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        raise TenantScopeError(
            f"{self.model.__name__}.objects needs for_tenant(tenant); "
            f"platform code uses {self.model.__name__}.unscoped"
        )

    def for_tenant(self, tenant: "Tenant | None") -> models.QuerySet:
        if tenant is None or tenant.pk is None:
            raise TenantScopeError("for_tenant() needs a saved tenant")
        return super().get_queryset().filter(tenant=tenant)


class AppendOnlyQuerySet(models.QuerySet):
    """Rows are written once: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise TypeError(f"{self.model.__name__} rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{self.model.__name__} rows are append-only")


class AppendOnlyTenantManager(TenantManager.from_queryset(AppendOnlyQuerySet)):  # type: ignore[misc]
    pass
