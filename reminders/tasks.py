"""django-q2 tasks of the reminders app (thin: the work is in dispatcher / csv_import)."""

from reminders import csv_import, dispatcher


def dispatch_reminders(tenant_id: int | None = None, seconds: float = 50.0) -> int:
    """Place due reminder calls for up to `seconds` (the minute schedule), paced to each
    tenant's limits. Idempotent: a re-issued run finds slots taken and skips them."""
    return dispatcher.run(seconds=seconds, tenant_id=tenant_id)


def run_import(job_id: int) -> str:
    """Validate and import an uploaded CSV (see reminders.csv_import)."""
    return csv_import.run(job_id)
