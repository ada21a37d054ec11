"""Trigram indexes for the inbox list's search (inbox/selectors.py `_search`), PostgreSQL only.

`icontains` is `UPPER(col) LIKE UPPER('%word%')`, which no B-tree serves: over 100,000
conversations and 1,000,000 messages a name took 4–6 s and a word of message text 2–3 s
(bench/inbox.py). GIN trigram indexes on the same expressions serve it. The contact's name,
email and phone change rarely, so theirs cost little. Messages are the engine's hot path, so
their index is partial: only inbound messages and agents' replies, the rows the search reads
(SEARCHED_MESSAGES); the journeys' bulk sends pay nothing. SQLite keeps the plain query.
The indexes live here, with the one feature that needs them."""

from django.db import migrations

INDEXES = [
    ("inbox_search_contact_first_name", "contacts_contact", "UPPER(first_name::text) gin_trgm_ops", ""),
    ("inbox_search_contact_last_name", "contacts_contact", "UPPER(last_name::text) gin_trgm_ops", ""),
    ("inbox_search_contact_email", "contacts_contact", "UPPER(email::text) gin_trgm_ops", ""),
    ("inbox_search_contact_phone", "contacts_contact", "UPPER(phone::text) gin_trgm_ops", ""),
    (
        "inbox_search_message_text",
        "channels_app_message",
        "UPPER(text) gin_trgm_ops",
        "WHERE (direction = 'in' OR sent_by = 'person')",
    ),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression, where in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({expression}) {where}"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _expression, _where in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0002_sweep_schedule"),
        ("contacts", "0001_initial"),
        ("channels_app", "0012_message_guardrail_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
