from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """Metering runs every minute."""
    every("usage.meter_usage", "usage.tasks.meter_usage", minutes=1)


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
