"""Quiet hours: 08:00-21:00 in the callee's zone, every day, DST-correct."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from campaigns import quiet_hours

NEW_YORK = ZoneInfo("America/New_York")


def test_inside_the_hours_a_call_may_go_now():
    now = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York

    assert quiet_hours.allowed(now, NEW_YORK)
    assert quiet_hours.next_allowed(now, NEW_YORK) == now


def test_late_evening_waits_for_the_next_morning():
    now = datetime(2026, 3, 4, 3, 0, tzinfo=UTC)  # 22:00 on the 3rd in New York

    later = quiet_hours.next_allowed(now, NEW_YORK)

    assert not quiet_hours.allowed(now, NEW_YORK)
    assert later.astimezone(NEW_YORK).isoformat() == "2026-03-04T08:00:00-05:00"


def test_early_morning_waits_for_eight_the_same_day_across_a_dst_change():
    now = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # 05:00 EDT on the day clocks went forward

    later = quiet_hours.next_allowed(now, NEW_YORK)

    assert later.astimezone(NEW_YORK).isoformat() == "2026-03-08T08:00:00-04:00"
    assert later.astimezone(UTC).hour == 12
