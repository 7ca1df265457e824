"""When a reminder may ring: the plan's window in the contact's local time, on allowed
weekdays, never outside 08:00-21:00, always before the appointment.

Everything is computed on aware datetimes: a local window edge is built per day with
zoneinfo (so a DST change day has its own UTC offset), and comparisons happen in UTC.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campaigns.quiet_hours import EARLIEST_CALL, LATEST_CALL
from reminders.models import ReminderPlan

SEARCH_DAYS = 8  # a week of weekdays plus one: beyond that no weekday is allowed at all


def bounds(plan: ReminderPlan) -> tuple[time, time]:
    """The plan's window clamped to the hours no call may leave."""
    return max(plan.window_start, EARLIEST_CALL), min(plan.window_end, LATEST_CALL)


def _day_window(day: date, zone: ZoneInfo, plan: ReminderPlan) -> tuple[datetime, datetime] | None:
    if day.weekday() not in {int(d) for d in plan.weekdays}:
        return None
    start, end = bounds(plan)
    if start >= end:
        return None
    return datetime.combine(day, start, tzinfo=zone), datetime.combine(day, end, tzinfo=zone)


def in_window(instant: datetime, zone: ZoneInfo, plan: ReminderPlan) -> bool:
    window = _day_window(instant.astimezone(zone).date(), zone, plan)
    return window is not None and window[0] <= instant <= window[1]


def latest_at_or_before(instant: datetime, zone: ZoneInfo, plan: ReminderPlan) -> datetime | None:
    day = instant.astimezone(zone).date()
    for back in range(SEARCH_DAYS):
        window = _day_window(day - timedelta(days=back), zone, plan)
        if window is None or window[0] > instant:
            continue
        return min(instant, window[1])
    return None


def earliest_at_or_after(instant: datetime, zone: ZoneInfo, plan: ReminderPlan) -> datetime | None:
    day = instant.astimezone(zone).date()
    for ahead in range(SEARCH_DAYS):
        window = _day_window(day + timedelta(days=ahead), zone, plan)
        if window is None or window[1] < instant:
            continue
        return max(instant, window[0])
    return None


def reminder_slot(
    starts_at: datetime, offset_minutes: int, now: datetime, zone: ZoneInfo, plan: ReminderPlan
) -> datetime | None:
    """When to call for the reminder `offset_minutes` before `starts_at`.

    The offset's own time if allowed; outside the window, the latest allowed time before
    it; when that has passed (booked late), the first allowed time from now. Never at or
    after the appointment: None when no allowed time is left.
    """
    ideal = starts_at - timedelta(minutes=offset_minutes)
    if ideal >= now:
        slot = latest_at_or_before(ideal, zone, plan)
        if slot is not None and slot >= now:
            return slot
    return allowed_from(now, starts_at, zone, plan)


def allowed_from(
    earliest: datetime, starts_at: datetime, zone: ZoneInfo, plan: ReminderPlan
) -> datetime | None:
    """The first allowed time at or after `earliest` that is still before the appointment."""
    slot = earliest_at_or_after(earliest, zone, plan)
    return slot if slot is not None and slot < starts_at else None
