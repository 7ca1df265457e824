"""django-q2 tasks of usage metering."""

from usage import services


def meter_usage() -> dict[str, int]:
    """Every minute: meter ended legs and text-to-speech not metered yet, and refresh the
    roll-ups of the days they fall on. Idempotent (see usage.services)."""
    return services.meter_usage()
