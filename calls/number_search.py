"""The calls portal's "number" filter: calls whose caller, called number or any leg's raw id
contains a text, shaped so PostgreSQL can use the trigram indexes of migration 0008."""

import re

from django.db.models import BooleanField, Func, Q, QuerySet, Subquery

from calls.models import Call, Participant
from tenants.models import Tenant

PHONE_LIKE = re.compile(r"[\d\s()+\-.]+")


def normalise(text: str) -> str:
    """The text searched for: people paste numbers as "+1 (425) 555-0100" and stored ones
    are bare E.164, but an ACS user id ("8:acs:1b5c...-0027-...") keeps its dashes."""
    text = text.strip()
    return re.sub(r"[\s()\-.]", "", text) if PHONE_LIKE.fullmatch(text) else text


class InArray(Func):
    """`column = ANY(ARRAY(subquery))` on PostgreSQL, `column IN (subquery)` elsewhere.

    `IN (subquery)` OR-ed with other conditions becomes a hashed SubPlan checked row by row
    along the time index: seconds at a million calls for a rare number. ARRAY(...) is an
    uncorrelated InitPlan run once (here: a trigram index scan of the participants), and
    `id = ANY($array)` is a primary key index condition, so the planner can BitmapOr it
    with the trigram scans of the call's own numbers, or walk the time index when the
    text is common enough to fill a page at once.
    """

    arity = 2
    output_field = BooleanField()
    conditional = True

    def _compiled(self, compiler):
        column, subquery = self.source_expressions
        column_sql, column_params = compiler.compile(column)
        subquery_sql, subquery_params = compiler.compile(subquery)  # "(SELECT ...)"
        return column_sql, subquery_sql, (*column_params, *subquery_params)

    def as_sql(self, compiler, connection, **extra_context):
        column_sql, subquery_sql, params = self._compiled(compiler)
        return f"{column_sql} IN {subquery_sql}", params

    def as_postgresql(self, compiler, connection, **extra_context):
        column_sql, subquery_sql, params = self._compiled(compiler)
        return f"{column_sql} = ANY(ARRAY{subquery_sql})", params


def containing(calls: QuerySet[Call], tenant: Tenant, number: str) -> QuerySet[Call]:
    """`calls` whose caller id, called number or a participant's raw id contains `number`
    (case-insensitive; under 3 characters no trigram matches, so that stays a scan)."""
    legs = Participant.objects.for_tenant(tenant).filter(raw_id__icontains=number)
    return calls.filter(
        Q(source_caller_id__icontains=number)
        | Q(to_number__icontains=number)
        | Q(InArray("pk", Subquery(legs.values("call_id"))))
    )
