from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """Every minute a dispatcher run (50 s) starts scheduled notifications, dials what is
    due (retry rounds), expires and completes; a launch also starts one at once."""
    every(
        "notifications.dispatch_notifications",
        "notifications.tasks.dispatch_notifications",
        minutes=1,
    )


class NotificationsConfig(AppConfig):
    name = "notifications"
    portal_menu = [("campaigns", 25, "Notifications", "portal:notifications")]
    # Ahead of reminders' summary: in an emergency this is what the operator needs.
    portal_slots = {"dashboard": [(10, "notifications.dashboard.notifications_now")]}

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
        from campaigns import pacing
        from notifications import dispatcher

        pacing.register(
            dispatcher.PACING_NAME, priority=dispatcher.PRIORITY, source=dispatcher.load
        )
