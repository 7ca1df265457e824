from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """The dispatcher runs every minute; each run paces calls for up to a minute (see
    reminders.dispatcher), so runs overlap little; after downtime the next run finds what
    is due now."""
    every("reminders.dispatch_reminders", "reminders.tasks.dispatch_reminders", minutes=1)


class RemindersConfig(AppConfig):
    name = "reminders"
    portal_menu = [
        ("campaigns", 20, "Appointments", "portal:reminder_appointments"),
        ("campaigns", 21, "Reminder plans", "portal:reminder_plans"),
        ("campaigns", 22, "Reminders report", "portal:reminder_report"),
    ]
    portal_slots = {
        "dashboard": [(20, "reminders.dashboard.reminders_today")],
        "call_facts": [(20, "reminders.call_panel.call_appointment")],
    }

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
        from campaigns import pacing
        from reminders import dispatcher

        pacing.register(
            dispatcher.PACING_NAME, priority=dispatcher.PRIORITY, source=dispatcher.load
        )
        import tenants.api.schema  # noqa: F401  (registers the API's OpenAPI auth schemes)
