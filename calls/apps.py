from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """The delivery sweeper runs every minute."""
    every("calls.sweep_deliveries", "calls.tasks.sweep_deliveries", minutes=1)


class CallsConfig(AppConfig):
    name = "calls"

    def ready(self) -> None:
        from calls.models import CarrierCommand
        from calls.nudge import queue_nudge

        post_migrate.connect(ensure_schedules, sender=self)
        post_save.connect(queue_nudge, sender=CarrierCommand, dispatch_uid="calls.nudge")
