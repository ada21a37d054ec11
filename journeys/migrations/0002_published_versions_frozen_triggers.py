"""A published journey version never changes, even for SQL that bypasses the models: a database
trigger refuses to change its graph, number or publication time. (Deleting stays possible for
the cascade of a deleted journey or workspace; the model refuses a direct delete.)"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION journeys_version_frozen() RETURNS trigger AS $$
BEGIN
  IF OLD.published_at IS NOT NULL AND (NEW.graph::text <> OLD.graph::text OR NEW.number IS DISTINCT FROM OLD.number
      OR NEW.published_at IS DISTINCT FROM OLD.published_at OR NEW.journey_id <> OLD.journey_id) THEN
    RAISE EXCEPTION 'journey version % is published and never changes', OLD.id;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER journeys_version_frozen BEFORE UPDATE ON journeys_journeyversion
  FOR EACH ROW EXECUTE FUNCTION journeys_version_frozen();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS journeys_version_frozen ON journeys_journeyversion;
DROP FUNCTION IF EXISTS journeys_version_frozen();
"""
SQLITE_FORWARD = [
    """CREATE TRIGGER journeys_version_frozen_update BEFORE UPDATE ON journeys_journeyversion
    WHEN OLD.published_at IS NOT NULL AND (NEW.graph IS NOT OLD.graph OR NEW.number IS NOT OLD.number
      OR NEW.published_at IS NOT OLD.published_at OR NEW.journey_id IS NOT OLD.journey_id)
    BEGIN SELECT RAISE(ABORT, 'journey version is published and never changes'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS journeys_version_frozen_update;",
]


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(PG_FORWARD)
        elif schema_editor.connection.vendor == "sqlite":
            for sql in SQLITE_FORWARD:
                cursor.execute(sql)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(PG_BACKWARD)
        elif schema_editor.connection.vendor == "sqlite":
            for sql in SQLITE_BACKWARD:
                cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("journeys", "0001_journeys_engine")]
    operations = [migrations.RunPython(forward, backward)]
