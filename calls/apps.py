from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """Create the engine's periodic tasks once, by name (safe on every migrate)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="calls.sweep_deliveries",
        defaults={
            "func": "calls.tasks.sweep_deliveries",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


class CallsConfig(AppConfig):
    name = "calls"

    def ready(self) -> None:
        from calls.models import CarrierCommand
        from calls.nudge import queue_nudge

        post_migrate.connect(ensure_schedules, sender=self)
        post_save.connect(queue_nudge, sender=CarrierCommand, dispatch_uid="calls.nudge")
