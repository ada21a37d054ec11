"""Database triggers that make consent events append-only, whatever code runs: UPDATE is always
refused; DELETE only while an ErasureGate row for the event's contact exists in the same
transaction (the GDPR erasure path, consent/gdpr.py). PostgreSQL and SQLite each get theirs."""

from django.db import migrations

MESSAGE = "consent events are append-only"

POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (
            SELECT 1 FROM consent_erasuregate g WHERE g.contact_id = OLD.contact_id
        ) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '{MESSAGE}: % refused (only GDPR erasure may delete)', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER consent_event_append_only
    BEFORE UPDATE OR DELETE ON consent_consentevent
    FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS consent_event_append_only ON consent_consentevent;",
    "DROP FUNCTION IF EXISTS consent_event_append_only();",
]

SQLITE = [
    f"""
    CREATE TRIGGER consent_event_no_update BEFORE UPDATE ON consent_consentevent
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END;
    """,
    f"""
    CREATE TRIGGER consent_event_no_delete BEFORE DELETE ON consent_consentevent
    WHEN NOT EXISTS (SELECT 1 FROM consent_erasuregate g WHERE g.contact_id = OLD.contact_id)
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused (only GDPR erasure may delete)'); END;
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS consent_event_no_update;",
    "DROP TRIGGER IF EXISTS consent_event_no_delete;",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)  # no placeholders: % is plpgsql formatting

    return run


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_registry_schema")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
            elidable=False,
        )
    ]
