"""Quiet hours: a person is called only 08:00-21:00 their local time (every day), the same
bounds reminders clamp their windows to. Life-safety notifications ignore them."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

EARLIEST_CALL = time(8, 0)
LATEST_CALL = time(21, 0)


def allowed(instant: datetime, zone: ZoneInfo) -> bool:
    local = instant.astimezone(zone).time()
    return EARLIEST_CALL <= local <= LATEST_CALL


def next_allowed(instant: datetime, zone: ZoneInfo) -> datetime:
    """`instant` itself if allowed, else the next 08:00 local."""
    if allowed(instant, zone):
        return instant
    local = instant.astimezone(zone)
    day = local.date() if local.time() < EARLIEST_CALL else local.date() + timedelta(days=1)
    return datetime.combine(day, EARLIEST_CALL, tzinfo=zone)
