"""Keyset paging (tenants.portal.listing): every row exactly once in both directions,
even when many rows share a timestamp; damaged cursors fall back to the newest page."""

import datetime as dt

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calls.models import Call
from tenants.portal import listing

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC)


def seed(tenant, offsets: list[int]) -> list[int]:
    """Calls at T0 + offset microseconds (few distinct offsets: many ties); their pks in
    the list's order (newest first, higher pk first among equals)."""
    Call.unscoped.filter(tenant=tenant).delete()
    calls = Call.unscoped.bulk_create(
        Call(tenant=tenant, direction=Call.Direction.OUTBOUND) for _ in offsets
    )
    for call, offset in zip(calls, offsets, strict=True):
        Call.unscoped.filter(pk=call.pk).update(created_at=T0 + dt.timedelta(microseconds=offset))
    ordered = sorted(zip(offsets, (c.pk for c in calls), strict=True), reverse=True)
    return [pk for _, pk in ordered]


def page(tenant, size: int, **query: str) -> listing.KeysetPage:
    params = QueryDict(mutable=True)
    params.update(query)
    return listing.keyset_page(Call.objects.for_tenant(tenant), params, size=size)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=3), min_size=0, max_size=23),
    size=st.integers(min_value=1, max_value=6),
)
def test_paging_older_then_newer_visits_every_row_once_in_order(tenant, offsets, size):
    expected = seed(tenant, offsets)

    current = page(tenant, size)
    forward = [current]
    while current.older:
        current = page(tenant, size, older=current.older)
        forward.append(current)
        assert len(forward) <= len(offsets) + 1, "paging does not end"
    seen = [call.pk for p in forward for call in p]
    assert seen == expected
    assert all(len(p) == size for p in forward[:-1])

    # Back up from the oldest page: the same pages, newest first again.
    backward = [current]
    while current.newer:
        current = page(tenant, size, newer=current.newer)
        backward.append(current)
        assert len(backward) <= len(offsets) + 1, "paging does not end"
    assert current.first
    back_seen = [call.pk for p in reversed(backward) for call in p]
    # Newer pages are exact; reaching the top shows the full newest page.
    assert back_seen[: len(current)] == expected[: len(current)]
    assert set(back_seen) == set(expected)


def test_the_newest_page_has_no_newer_link_and_the_last_page_no_older_link(tenant):
    expected = seed(tenant, [0, 1, 2, 3, 4])

    first = page(tenant, 2)
    last = page(tenant, 2, older=page(tenant, 2, older=first.older).older)

    assert first.first
    assert first.newer is None
    assert first.older
    assert [c.pk for c in last] == expected[4:]
    assert last.older is None
    assert last.newer
    assert not last.first


@pytest.mark.parametrize(
    "cursor", ["x", "2026_1", "20260303T120000.000000_", "20261399T000000.0_5"]
)
def test_a_damaged_cursor_shows_the_newest_page_and_says_so(tenant, cursor):
    expected = seed(tenant, [0, 1, 2])

    for direction in ("older", "newer"):
        shown = page(tenant, 2, **{direction: cursor})
        assert [c.pk for c in shown] == expected[:2]
        assert shown.error == listing.BAD_CURSOR


def test_a_cursor_round_trips_microseconds_and_the_pk():
    moment = dt.datetime(2026, 3, 3, 12, 0, 0, 123456, tzinfo=dt.UTC)

    assert listing.decode(listing.encode(moment, 42)) == (moment, 42)
