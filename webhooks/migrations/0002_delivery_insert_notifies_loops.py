"""Wake the delivery loops (webhooks/loop.py) when the outbox gets a row: PostgreSQL only.

A statement-level trigger NOTIFYs `callauto_deliveries`; PostgreSQL sends it when the
publishing transaction commits (once per transaction), so a loop never wakes for a row it
cannot see yet, and publishing costs no extra round trip. SQLite has no NOTIFY: loops poll.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION webhooks_delivery_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('callauto_deliveries', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER webhooks_delivery_notify
    AFTER INSERT ON webhooks_delivery
    FOR EACH STATEMENT EXECUTE FUNCTION webhooks_delivery_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS webhooks_delivery_notify ON webhooks_delivery;
DROP FUNCTION IF EXISTS webhooks_delivery_notify();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
