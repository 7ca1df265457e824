"""Keyset paging for every portal list, and the live refresh of a list's first page.

A list is newest first on (time, pk). "Older" carries the last row's key in the query
string (`?older=<time>_<pk>`), "Newer" the first row's (`?newer=...`), next to the
filters so links stay shareable. A page is one index range scan however deep it is:
no COUNT over the table, no OFFSET (issue 17 item 8; `make bench-lists` measures it).
The pk breaks ties, so rows with equal times are each shown exactly once.

Lives in tenants (the ground floor) so every app's list pages can import it.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Model, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

PAGE_SIZE = 50
CURSOR_FORMAT = "%Y%m%dT%H%M%S.%f"
BAD_CURSOR = "That page link is damaged; showing the newest page instead."
# Parameters that are not filters: a filter form ignores them, the pager rewrites them.
PAGING_PARAMS = ("older", "newer", "live", "page", "bare")


class BadCursor(ValueError):
    pass


def encode(moment: dt.datetime, pk: int) -> str:
    return f"{moment.astimezone(dt.UTC).strftime(CURSOR_FORMAT)}_{pk}"


def decode(cursor: str) -> tuple[dt.datetime, int]:
    try:
        moment, pk = cursor.split("_", 1)
        return dt.datetime.strptime(moment, CURSOR_FORMAT).replace(tzinfo=dt.UTC), int(pk)
    except ValueError:
        raise BadCursor(cursor) from None


@dataclass
class KeysetPage:
    """One page of rows plus the cursors of its neighbours (None: nothing that way).
    Iterates like Django's Page so templates keep `{% for row in page %}`."""

    rows: list[Any]
    newer: str | None = None
    older: str | None = None
    # True on the newest page (no cursor): the only page that refreshes itself live.
    first: bool = True
    error: str = ""

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Any:
        return self.rows[index]

    @property
    def object_list(self) -> list[Any]:
        return self.rows

    def has_other_pages(self) -> bool:
        return bool(self.newer or self.older or not self.first)


def _key(row: Model, time_field: str) -> str:
    return encode(getattr(row, time_field), row.pk)


def _older_than(rows: QuerySet, time_field: str, moment: dt.datetime, pk: int) -> QuerySet:
    # A row comparison, `(time, pk) < (t, p)`: PostgreSQL scans the (tenant, -time, -id)
    # index from exactly there, even through a million rows sharing one timestamp (where
    # `time <= t AND NOT (time = t AND pk >= p)` would filter all of them). Tuple lookups
    # are Django's own (they back composite primary keys since 5.2).
    key = Tuple(F(time_field), F("pk"))
    return rows.filter(TupleLessThan(key, (moment, pk)))


def _newer_than(rows: QuerySet, time_field: str, moment: dt.datetime, pk: int) -> QuerySet:
    key = Tuple(F(time_field), F("pk"))
    return rows.filter(TupleGreaterThan(key, (moment, pk)))


def _newest(rows: QuerySet, time_field: str, size: int, error: str = "") -> KeysetPage:
    chunk = list(rows.order_by(f"-{time_field}", "-pk")[: size + 1])
    older = _key(chunk[size - 1], time_field) if len(chunk) > size else None
    return KeysetPage(chunk[:size], older=older, error=error)


def keyset_page(
    rows: QuerySet, params: QueryDict, *, time_field: str = "created_at", size: int = PAGE_SIZE
) -> KeysetPage:
    """The page of `rows` that the query string's cursor asks for, newest first.

    One query per page (two when "Newer" reaches the top: then the newest page is shown,
    full, instead of a short one). A damaged cursor shows the newest page and says so.
    """
    try:
        older = decode(params["older"]) if params.get("older") else None
        newer = decode(params["newer"]) if params.get("newer") else None
    except BadCursor:
        return _newest(rows, time_field, size, error=BAD_CURSOR)
    if newer:
        ascending = _newer_than(rows, time_field, *newer).order_by(time_field, "pk")
        chunk = list(ascending[: size + 1])
        if len(chunk) <= size:
            return _newest(rows, time_field, size)
        chunk = chunk[:size][::-1]
        return KeysetPage(
            chunk,
            newer=_key(chunk[0], time_field),
            older=_key(chunk[-1], time_field),
            first=False,
        )
    if older is None:
        return _newest(rows, time_field, size)
    descending = _older_than(rows, time_field, *older).order_by(f"-{time_field}", "-pk")
    chunk = list(descending[: size + 1])
    page = KeysetPage(chunk[:size], first=False)
    if len(chunk) > size:
        page.older = _key(chunk[size - 1], time_field)
    if page.rows:
        page.newer = _key(page.rows[0], time_field)
    return page


def filter_data(request: HttpRequest) -> QueryDict | None:
    """The query string as a filter form's data (None when there is no filter), without
    the pager's own parameters."""
    data = request.GET.copy()
    for name in PAGING_PARAMS:
        data.pop(name, None)
    return data or None


def is_live(request: HttpRequest) -> bool:
    """A live list's poll (`?live=1`, kept out of the access log by callauto.access_log)."""
    return request.GET.get("live") == "1"


def render_list(
    request: HttpRequest, template: str, rows_template: str, context: dict
) -> HttpResponse:
    """The list page, or for a live poll only its rows (the newest page, same filters);
    static/portal/live_list.js swaps them in."""
    if is_live(request):
        return render(request, rows_template, context)
    return render(request, template, context)
