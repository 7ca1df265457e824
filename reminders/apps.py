from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """Create the dispatcher's schedule once, by name (safe on every migrate).

    Every minute; each run paces calls for up to a minute (see reminders.dispatcher), so
    runs overlap little. django-q2 never catches up missed runs (Q_CLUSTER catch_up off):
    after downtime the next run simply finds what is due now.
    """
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="reminders.dispatch_reminders",
        defaults={
            "func": "reminders.tasks.dispatch_reminders",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


class RemindersConfig(AppConfig):
    name = "reminders"

    def ready(self) -> None:
        post_migrate.connect(ensure_schedules, sender=self)
        import tenants.api.schema  # noqa: F401  (registers the API's OpenAPI auth schemes)
