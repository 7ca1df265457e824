"""Calling windows in the contact's local time: DST change days, other zones, weekdays,
the 08:00-21:00 bounds, late bookings."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reminders import windows
from reminders.models import ReminderPlan

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def plan(**fields) -> ReminderPlan:
    defaults = {"window_start": time(9), "window_end": time(20), "weekdays": list(range(7))}
    return ReminderPlan(**{**defaults, **fields})


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_window_opens_at_nine_local_on_the_spring_dst_day():
    # 2026-03-08: New York moves to EDT (UTC-4) at 02:00, so 09:00 local is 13:00 UTC.
    assert not windows.in_window(utc(2026, 3, 8, 12, 59), NEW_YORK, plan())
    assert windows.in_window(utc(2026, 3, 8, 13, 0), NEW_YORK, plan())


def test_the_window_opens_at_nine_local_on_the_autumn_dst_day():
    # 2026-11-01: back to EST (UTC-5) at 02:00, so 09:00 local is 14:00 UTC.
    assert not windows.in_window(utc(2026, 11, 1, 13, 30), NEW_YORK, plan())
    assert windows.in_window(utc(2026, 11, 1, 14, 0), NEW_YORK, plan())


def test_a_slot_before_the_window_on_the_spring_dst_day_moves_to_the_evening_before():
    appointment = utc(2026, 3, 9, 11, 0)  # Monday 07:00 EDT
    now = utc(2026, 3, 1)

    slot = windows.reminder_slot(appointment, 24 * 60, now, NEW_YORK, plan())

    # Sunday 07:00 EDT is too early: Saturday 20:00 EST (still winter time) = 01:00 UTC.
    assert slot == utc(2026, 3, 8, 1, 0)


def test_a_slot_after_the_window_on_the_autumn_dst_day_moves_to_its_end():
    appointment = utc(2026, 11, 2, 3, 0)  # Sunday 22:00 EST
    now = utc(2026, 10, 25)

    slot = windows.reminder_slot(appointment, 60, now, NEW_YORK, plan())

    # 21:00 EST is outside 09:00-20:00: 20:00 EST that day, which is 01:00 UTC.
    assert slot == utc(2026, 11, 2, 1, 0)


def test_a_contact_in_berlin_is_called_in_berlin_hours_not_the_tenants():
    # 15:00 UTC is 16:00 in Berlin and 09:00 in Chicago; 20:30 UTC is 21:30 in Berlin.
    assert windows.in_window(utc(2026, 3, 3, 15, 0), BERLIN, plan())
    assert not windows.in_window(utc(2026, 3, 3, 20, 30), BERLIN, plan())
    assert windows.in_window(utc(2026, 3, 3, 20, 30), ZoneInfo("America/Chicago"), plan())


def test_a_plan_window_is_clamped_to_eight_to_nine():
    wide = plan(window_start=time(6), window_end=time(23))

    assert windows.bounds(wide) == (time(8), time(21))
    assert not windows.in_window(utc(2026, 3, 3, 12, 30), NEW_YORK, wide)  # 07:30 local


def test_a_slot_on_a_disallowed_weekday_moves_to_the_last_allowed_day():
    weekdays_only = plan(weekdays=[0, 1, 2, 3, 4])
    appointment = utc(2026, 3, 9, 14, 0)  # Monday 10:00 EDT
    now = utc(2026, 3, 1)

    slot = windows.reminder_slot(appointment, 24 * 60, now, NEW_YORK, weekdays_only)

    assert slot == utc(2026, 3, 7, 1, 0)  # Friday 20:00 EST


def test_a_late_booking_is_reminded_at_once_when_inside_the_window():
    now = utc(2026, 3, 3, 15, 0)  # 10:00 EST
    appointment = now + timedelta(hours=3)

    assert windows.reminder_slot(appointment, 24 * 60, now, NEW_YORK, plan()) == now


def test_a_late_booking_outside_the_window_waits_for_the_next_morning():
    now = utc(2026, 3, 4, 2, 0)  # 21:00 EST
    appointment = utc(2026, 3, 4, 16, 0)  # 11:00 EST the next day

    slot = windows.reminder_slot(appointment, 24 * 60, now, NEW_YORK, plan())

    assert slot == utc(2026, 3, 4, 14, 0)  # 09:00 EST


def test_no_slot_is_given_when_no_allowed_time_is_left_before_the_appointment():
    now = utc(2026, 3, 4, 2, 0)  # 21:00 EST
    appointment = utc(2026, 3, 4, 13, 0)  # 08:00 EST the next day

    assert windows.reminder_slot(appointment, 120, now, NEW_YORK, plan()) is None
