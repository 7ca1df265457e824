from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """The daily retention purge, created once by name (safe on every migrate)."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="recordings.purge_expired",
        defaults={
            "func": "recordings.tasks.purge_expired",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
        },
    )


class RecordingsConfig(AppConfig):
    name = "recordings"

    def ready(self) -> None:
        from calls.carrier import RecordingOutcome
        from calls.ingest import register_handler
        from recordings import handlers

        # calls/ never imports recordings/: the engine hands us the driver's recording events.
        register_handler(RecordingOutcome.READY, handlers.recording_ready)
        register_handler(RecordingOutcome.FAILED, handlers.recording_failed)
        post_migrate.connect(ensure_schedules, sender=self)
