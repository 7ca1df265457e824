from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """Create the metering schedule once, by name (safe on every migrate)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="usage.meter_usage",
        defaults={
            "func": "usage.tasks.meter_usage",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
