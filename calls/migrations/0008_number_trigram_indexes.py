"""Trigram indexes for the portal's calls "number" filter (issue 17 item 8), PostgreSQL only.

The filter is a substring search (Django's icontains: UPPER(col::text) LIKE UPPER('%...%')),
which no btree serves; at a million calls it walked the time index for seconds. A pg_trgm
GIN index on the very expression icontains writes lets PostgreSQL find the few matching
rows for any part of 3 characters or more. SQLite (the embedded `make run` database) gets
nothing, and where pg_trgm cannot be created (it needs a superuser or a trusted
extension) the migration logs a warning and carries on: the filter still works, slowly.
The indexes are not declared in Meta, so makemigrations stays clean on both databases.
"""

import logging

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)

INDEXES = [  # (name, table, column)
    ("call_caller_trgm", "calls_call", "source_caller_id"),
    ("call_to_trgm", "calls_call", "to_number"),
    ("participant_raw_id_trgm", "calls_participant", "raw_id"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):  # a savepoint
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        log.warning("pg_trgm unavailable (%s): the calls number filter stays a scan", error)
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )
    # An expression index's statistics come from ANALYZE only: until then the planner
    # guesses, and bitmap-scanned a million calls for a number found in every one (2.3 s)
    # instead of walking the time index.
    for table in sorted({table for _, table, _ in INDEXES}):
        schema_editor.execute(f"ANALYZE {table}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:  # the extension stays: other databases' objects may use it
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("calls", "0007_keyset_index")]

    operations = [migrations.RunPython(create, drop)]
