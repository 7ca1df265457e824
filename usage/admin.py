"""Read-only admin views of metered usage, for platform operators checking a bill."""

from django.contrib import admin
from django.http import HttpRequest

from usage.models import DailyUsage, UsageRecord


class ReadOnly(admin.ModelAdmin):
    # Figures come from metering only; an edit here would disagree with the roll-ups.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnly):
    list_display = ["tenant", "category", "started_at", "seconds", "billable_seconds", "cost"]
    list_filter = ["category", "tenant"]
    date_hierarchy = "started_at"
    list_select_related = ["tenant"]


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnly):
    list_display = ["tenant", "day", "category", "count", "billable_seconds", "cost"]
    list_filter = ["category", "tenant"]
    date_hierarchy = "day"
    list_select_related = ["tenant"]
