"""Django admin for platform operators: reminder data, read-only (tenants change it through
the portal and the API, where it is audited)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from reminders.models import Appointment, Attempt, Contact, ImportJob, ReminderPlan, Suppression


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReminderPlan)
class PlanAdmin(ReadOnly):
    list_display = ["name", "tenant", "offsets_minutes", "window_start", "window_end", "active"]
    list_filter = ["tenant", "active"]


@admin.register(Contact)
class ContactAdmin(ReadOnly):
    list_display = ["name", "phone", "time_zone", "consent", "tenant"]
    list_filter = ["tenant", "consent"]
    search_fields = ["phone", "name", "external_id"]


@admin.register(Appointment)
class AppointmentAdmin(ReadOnly):
    list_display = ["external_id", "tenant", "starts_at", "status", "next_attempt_at"]
    list_filter = ["tenant", "status"]
    search_fields = ["external_id"]


@admin.register(Attempt)
class AttemptAdmin(ReadOnly):
    list_display = ["appointment", "reminder_index", "attempt_number", "state", "disposition",
                    "dialed_at", "tenant"]  # fmt: skip
    list_filter = ["tenant", "state", "disposition"]
    search_fields = ["call_connection_id", "server_call_id"]


@admin.register(Suppression)
class SuppressionAdmin(ReadOnly):
    list_display = ["phone", "reason", "source", "created_at", "tenant"]
    list_filter = ["tenant", "reason", "source"]
    search_fields = ["phone"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnly):
    list_display = ["pk", "tenant", "state", "total_rows", "created_count", "created_at"]
    list_filter = ["tenant", "state"]
    exclude = ["content"]
