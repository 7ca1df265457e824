"""Django admin for platform operators: tenants, rate plans, and the audit trail (read-only)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants import audit, services
from tenants.models import AuditEntry, Membership, PhoneNumber, RatePlan, Tenant


def _jsonable(values: dict) -> dict:
    return {
        key: value if isinstance(value, int | bool) else str(value) for key, value in values.items()
    }


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class PhoneNumberInline(admin.TabularInline):
    model = PhoneNumber
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "time_zone", "max_concurrent_calls", "rate_plan"]
    list_filter = ["status", "rate_plan"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, PhoneNumberInline]
    actions = ["suspend", "reactivate"]

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            before = {name: form.initial.get(name) for name in form.changed_data}
            super().save_model(request, obj, form, change)
            if form.changed_data:
                after = {name: form.cleaned_data.get(name) for name in form.changed_data}
                audit.record(
                    obj,
                    actor=request.user,
                    action="tenant.update",
                    target=obj,
                    before=_jsonable(before),
                    after=_jsonable(after),
                )
            return
        # New tenants go through the service so they get their access keys and audit entry.
        created = services.create_tenant(
            obj.name,
            obj.slug,
            actor=request.user,
            time_zone=obj.time_zone,
            rate_plan=obj.rate_plan,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description="Suspend selected tenants (API refused, portal read-only)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=request.user)

    @admin.action(description="Reactivate selected tenants")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.set_tenant_status(tenant, Tenant.Status.ACTIVE, actor=request.user)


@admin.register(RatePlan)
class RatePlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "currency",
        "pstn_outbound_per_minute",
        "pstn_inbound_per_minute",
        "voip_per_minute",
        "recording_per_minute",
        "billing_increment_seconds",
    ]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "actor_label", "action", "target_type", "target_id"]
    list_filter = ["action", "tenant"]
    search_fields = ["actor_label", "target_repr", "target_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
