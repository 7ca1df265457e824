"""Query filters of the tenant REST API (django-filter).

Every filter set of the API extends `ApiFilterSet`:
- a number filter on an integer column is a whole number within what that column holds.
  django-filter's NumberFilter parses a decimal, so `contact=1.5` silently meant contact 1
  and `contact=-3.9e48` reached the database as a 49-digit integer (SQLite's driver raises
  OverflowError: a 500). Both answer 400 naming the filter; the OpenAPI schema states the
  bounds.
- a time filter is converted to UTC before it reaches the database. Python accepts offsets
  up to ±23:59, PostgreSQL only up to ±15:59 ("time zone displacement out of range": a
  500), and 9999-12-31T23:00-02:00 does not exist in UTC at all (OverflowError).
"""

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django_filters import rest_framework as filters
from django_filters.utils import get_model_field
from drf_spectacular.utils import extend_schema_field

# The portable column ranges (PostgreSQL's; SQLite holds any 64-bit integer): the API's
# contract is the same on every database.
COLUMN_RANGES = BaseDatabaseOperations.integer_field_ranges


def in_utc(moment: datetime) -> datetime:
    """`moment` (aware) in UTC; ValidationError when UTC cannot express it."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError("This time is out of range.", code="invalid") from None


class UtcTimeField:
    """Mixin for a django-filter/forms datetime field: the parsed time, in UTC."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)  # type: ignore[misc]
        return None if moment is None else in_utc(moment)


def utc_field(field_class: type[forms.Field]) -> type[forms.Field]:
    return type(f"Utc{field_class.__name__}", (UtcTimeField, field_class), {})


class IntegerFilter(filters.NumberFilter):
    """A whole number from `min_value` to `max_value` (pass both)."""

    field_class = forms.IntegerField

    def get_max_validator(self) -> None:
        return None  # NumberFilter's 1e50 cap; the field's own bounds apply instead


def column_range(model: type[models.Model], field_name: str) -> tuple[int, int] | None:
    """(min, max) of an integer column (a foreign key: of the key it points at), else None."""
    field = get_model_field(model, field_name)
    if field is None:
        return None
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    return COLUMN_RANGES.get(field.get_internal_type())


def bounded(model: type[models.Model], name: str, number: filters.NumberFilter) -> filters.Filter:
    """`number` as an IntegerFilter bounded by its column, when the column is an integer."""
    bounds = column_range(model, number.field_name)
    if bounds is None or isinstance(number, IntegerFilter):
        return number
    low, high = bounds
    whole = IntegerFilter(
        field_name=number.field_name,
        lookup_expr=number.lookup_expr,
        label=number._label,
        method=number.method,
        distinct=number.distinct,
        exclude=number.exclude,
        **{**number.extra, "min_value": low, "max_value": high},
    )
    # What drf-spectacular publishes for this query parameter.
    extend_schema_field({"type": "integer", "minimum": low, "maximum": high})(whole)
    return whole


class ApiFilterSet(filters.FilterSet):
    """Base of the API's filter sets: number filters on integer columns are bounded, time
    filters are in UTC."""

    @classmethod
    def get_filters(cls) -> dict[str, Any]:
        found = super().get_filters()
        model = cls._meta.model
        if model is None:
            return found
        for name, each in found.items():
            if isinstance(each, filters.NumberFilter):
                found[name] = bounded(model, name, each)
            elif isinstance(each, filters.DateTimeFilter):
                each.field_class = utc_field(each.field_class)
        return found
