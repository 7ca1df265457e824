"""Periodic django-q2 tasks, created once by name: apps call `every(...)` from a
post_migrate handler, so every `migrate` leaves exactly one schedule per name (and
Q_CLUSTER's catch_up is off, so downtime never runs a backlog)."""

from typing import Any


def every(name: str, func: str, *, minutes: int | None = None, daily: bool = False) -> None:
    from django_q.models import Schedule

    options: dict[str, Any] = (
        {"schedule_type": Schedule.DAILY}
        if daily
        else {"schedule_type": Schedule.MINUTES, "minutes": minutes or 1}
    )
    Schedule.objects.update_or_create(name=name, defaults={"func": func, "repeats": -1, **options})
