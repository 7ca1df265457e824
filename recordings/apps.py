from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from callauto.schedules import every


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """The retention purge runs daily."""
    every("recordings.purge_expired", "recordings.tasks.purge_expired", daily=True)


class RecordingsConfig(AppConfig):
    name = "recordings"
    portal_menu = [("recordings", 30, "Recordings", "portal:recordings")]
    portal_slots = {"call_detail": [(10, "recordings.call_panel.call_recordings")]}

    def ready(self) -> None:
        from calls.ingest import register_handler
        from carrier.interface import RecordingOutcome
        from recordings import handlers

        # calls/ never imports recordings/: the engine hands us the driver's recording events.
        register_handler(RecordingOutcome.READY, handlers.recording_ready)
        register_handler(RecordingOutcome.FAILED, handlers.recording_failed)
        post_migrate.connect(ensure_schedules, sender=self)
