"""Hot queries whose SQL the ORM builds once per process (issue 15).

py-spy of `make bench PROFILE=1` showed the ORM's Python (as_sql, select_related's
joins, ordering) costing more than PostgreSQL took to answer on the hottest queries: the
tenant + access keys look-up of every API request and the delivery loop's claim. A
`Compiled` query is the same queryset, compiled once with marker values in place of
the parameters that change, then executed with the real values; its rows become model
instances here (the SELECT's columns are each model's concrete fields in order, which
is how the ORM writes a select_related SELECT; a check refuses any other shape).

PostgreSQL only: other backends (SQLite in development) run the queryset as usual.
"""

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

MARKER = "\x1e compiled-query parameter \x1e"
# For integer parameters (a tenant's or a call's id): no row has a negative id.
INT_MARKER = -7_205_759_403_792_793


class Compiled:
    def __init__(
        self,
        build: Callable[[Any], models.QuerySet],
        chain: Sequence[type[models.Model]],
        *,
        extra_columns: int = 0,
        markers: Sequence[object] = (MARKER,),
    ) -> None:
        """`build(*values)` makes the queryset for one value of each changing parameter
        (`markers` holds one marker per parameter: MARKER for text, INT_MARKER for an
        integer); `chain` is its model then each select_related model, in join order;
        trailing `extra_columns` (annotations) are read but not kept."""
        self.build, self.chain, self.extra = build, list(chain), extra_columns
        self.markers = tuple(markers)
        self._sql: str | None = None
        self._params: list = []
        self._slots: list[int] = []
        self._fields = [m._meta.concrete_fields for m in self.chain]
        self._width = sum(len(f) for f in self._fields) + extra_columns
        # Worked out once, not per row: each model's attnames, the fields that convert
        # what the driver gives (from_db_value), and the foreign key joining each pair.
        self._attnames = [[f.attname for f in fields] for fields in self._fields]
        self._converters = [
            [(i, f) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]
            for fields in self._fields
        ]
        self._links = [
            next(f for f in parent._meta.concrete_fields if f.related_model is child)
            for parent, child in itertools.pairwise(self.chain)
        ]

    def rows(self, *values: object) -> list[tuple[models.Model, ...]]:
        """One tuple per row: (model instance, each select_related instance...)."""
        if connection.vendor != "postgresql":
            return [self._from_queryset(obj) for obj in self.build(*values)]
        if self._sql is None:
            sql, params = self.build(*self.markers).query.sql_with_params()
            params = list(params)
            if any(params.count(marker) != 1 for marker in self.markers):
                raise RuntimeError("each marker must appear exactly once in the parameters")
            self._slots = [params.index(marker) for marker in self.markers]
            self._sql, self._params = sql, params
        params = list(self._params)
        for slot, value in zip(self._slots, values, strict=True):
            params[slot] = value
        # Prepared once per connection where the backend offers it (callauto.postgresql).
        with getattr(connection, "prepared_cursor", connection.cursor)() as cursor:
            cursor.execute(self._sql, params)
            rows = cursor.fetchall()
        # The width of a row, not cursor.description: psycopg builds a Column object per
        # column for a description, which cost more than the rest of this method.
        if rows and len(rows[0]) != self._width:
            raise RuntimeError("the compiled SELECT no longer has the expected columns")
        return [self._instances(row) for row in rows]

    def _instances(self, row: tuple) -> tuple[models.Model, ...]:
        out, start = [], 0
        for model, attnames, converters in zip(
            self.chain, self._attnames, self._converters, strict=True
        ):
            values = list(row[start : start + len(attnames)])
            start += len(attnames)
            for i, field in converters:
                values[i] = field.from_db_value(values[i], None, connection)
            out.append(model.from_db(connection.alias, attnames, values))
        for fk, (parent, child) in zip(self._links, itertools.pairwise(out), strict=True):
            # select_related's cache: parent.<fk> is child without another query.
            fk.set_cached_value(parent, child)
        return tuple(out)

    def _from_queryset(self, obj: models.Model) -> tuple[models.Model, ...]:
        out = [obj]
        for model in self.chain[1:]:
            fk = next(f for f in out[-1]._meta.concrete_fields if f.related_model is model)
            out.append(getattr(out[-1], fk.name))
        return tuple(out)
