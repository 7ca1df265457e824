from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """Metering runs every minute."""
    every("usage.meter_usage", "usage.tasks.meter_usage", minutes=1)


class UsageConfig(AppConfig):
    name = "usage"
    portal_menu = [("overview", 60, "Usage", "portal:usage")]
    portal_slots = {"call_facts": [(10, "usage.call_panel.call_cost")]}

    def ready(self) -> None:
        from recordings.signals import file_finalized
        from usage.handlers import meter_recording_file

        post_migrate.connect(ensure_schedules, sender=self)
        # recordings/ never imports usage/: it announces each stored file.
        file_finalized.connect(meter_recording_file, dispatch_uid="usage.meter_recording_file")
