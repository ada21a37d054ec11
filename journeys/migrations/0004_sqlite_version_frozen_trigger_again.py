"""SQLite rebuilds a table to add a column with a default (0003 added `is_test`), and the
rebuild drops the table's triggers: put back the trigger that keeps published versions (and
test snapshots) frozen. PostgreSQL keeps its trigger through ALTER TABLE; nothing to do there."""

from django.db import migrations

SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS journeys_version_frozen_update;",
    """CREATE TRIGGER journeys_version_frozen_update BEFORE UPDATE ON journeys_journeyversion
    WHEN OLD.published_at IS NOT NULL AND (NEW.graph IS NOT OLD.graph OR NEW.number IS NOT OLD.number
      OR NEW.published_at IS NOT OLD.published_at OR NEW.journey_id IS NOT OLD.journey_id)
    BEGIN SELECT RAISE(ABORT, 'journey version is published and never changes'); END;""",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        with schema_editor.connection.cursor() as cursor:
            for sql in SQLITE_FORWARD:
                cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("journeys", "0003_test_runs")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
