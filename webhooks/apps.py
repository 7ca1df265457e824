from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """The delivery sweeper runs every minute."""
    every("webhooks.sweep_deliveries", "webhooks.tasks.sweep_deliveries", minutes=1)


class WebhooksConfig(AppConfig):
    name = "webhooks"
    portal_menu = [
        ("developers", 30, "Deliveries", "portal:deliveries"),
        ("developers", 20, "Webhooks", "portal:webhooks"),
    ]
    portal_slots = {"dashboard_cards": [(20, "webhooks.portal.dashboard.callback_health")]}

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
