"""django-q2 tasks of the notifications app (thin: the work is in dispatcher)."""

from notifications import dispatcher


def dispatch_notifications(tenant_id: int | None = None, seconds: float = 50.0) -> int:
    """Dial due recipients for up to `seconds`, paced to each tenant's limits. Idempotent:
    a re-issued run finds the rounds' slots taken and skips them."""
    return dispatcher.run(seconds=seconds, tenant_id=tenant_id)
