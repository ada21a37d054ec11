"""Writing an ImportPlan: one transaction with every contact, tag link and the audit entry, so a
failure at any point leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.db import connection, models, transaction
from django.db.models.constants import OnConflict
from django.template.loader import render_to_string
from django.utils import timezone

from contacts.models import Contact, ContactImport
from contacts.services import contact_row_html, tags_ensure
from cpaas.audit import audit_record
from cpaas.realtime import publish, workspace_group
from cpaas.tenancy import Actor

from .rows import ImportPlan

LIVE_ROWS_MAX = 50  # up to this many created contacts appear one by one on open lists


def _apply_changes(contact: Contact, changes: dict) -> set[str]:
    for key, value in changes.items():
        if key == "attributes":
            merged = {**contact.attributes, **value}
            contact.attributes = {k: v for k, v in merged.items() if v is not None}
        elif key == "addresses":
            contact.addresses = {**contact.addresses, **value}
        else:
            setattr(contact, key, value)
    return set(changes)


def import_write(*, contact_import: ContactImport, plan: ImportPlan, actor: Actor, now=None) -> dict:
    """Write the plan in one transaction with its audit entry: all of it, or nothing."""
    now = now or timezone.now()
    workspace = contact_import.workspace
    # Everything is prepared before the transaction opens, down to the SQL parameters: on SQLite
    # the transaction holds the database's write lock, so inside it only statements run.
    updated: list[Contact] = []
    update_fields: set[str] = {"updated_at"}
    existing = Contact.objects.in_bulk([pk for pk, _, _ in plan.updates]) if plan.updates else {}
    for pk, changes, _tags in plan.updates:
        contact = existing.get(pk)
        if contact is None:
            raise ImportConflict(f"Contact #{pk} was deleted while the import ran.")
        update_fields |= _apply_changes(contact, changes)
        contact.updated_at = now
        updated.append(contact)
    created = [contact for contact, _ in plan.creates]
    for contact in created:
        contact.created_at = contact.updated_at = now
    sql = _PostgresSql() if connection.vendor == "postgresql" else _PortableSql()
    inserts = sql.inserts(created)
    updates = sql.updates(updated, sorted(update_fields))
    tag_names = sorted(
        set(contact_import.tag_names).union(*(t for _, t in plan.creates), *(t for _, _, t in plan.updates))
    )
    counts = {
        "created": len(created),
        "updated": len(updated),
        "skipped": plan.invalid_rows,
        "errors": plan.error_count,
    }
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        tag_ids = {tag.name: tag.pk for tag in tags_ensure(workspace=workspace, names=tag_names)}
        inserts(cursor)
        updates(cursor)
        base = {tag_ids[name] for name in contact_import.tag_names}
        tagged = [(c.pk, tags) for c, tags in plan.creates] + [(pk, tags) for pk, _, tags in plan.updates]
        sql.links([(pk, tag_id) for pk, tags in tagged for tag_id in base | {tag_ids[n] for n in tags}])(
            cursor
        )
        audit_record(
            workspace=workspace,
            actor=actor,
            action="contacts.import.completed",
            target=contact_import,
            data={"filename": contact_import.filename, **counts},
            at=now,
        )
        ContactImport.objects.filter(pk=contact_import.pk).update(
            status=ContactImport.Status.COMPLETED,
            processed_rows=plan.total_rows,
            total_rows=plan.total_rows,
            created_count=len(created),
            updated_count=len(updated),
            skipped_count=plan.invalid_rows,
            error_count=plan.error_count,
            errors=plan.errors,
            finished_at=now,
        )
        _publish_imported(contact_import, created, counts)
    return counts


# Hand-built statements. bulk_create and bulk_update spend nearly all their time compiling SQL in
# Python, inside the transaction (bulk_update builds a CASE per row and field: ~250 rows/s for
# 20,000 updates on SQLite). These are compiled before the transaction opens; each method returns
# a function that runs them on a cursor inside it.

_Run = Callable[[object], None]
_CONTACT_FIELDS = [f for f in Contact._meta.concrete_fields if not f.primary_key]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _execute_all(statements: list[tuple[str, list]]) -> _Run:
    def run(cursor) -> None:
        for sql, params in statements:
            cursor.execute(sql, params)

    return run


def _link_table() -> tuple[str, str, str]:
    through = Contact.tags.through._meta
    return (
        _quote(through.db_table),
        _quote(through.get_field("contact").column),
        _quote(through.get_field("tag").column),
    )


class _PortableSql:
    """SQLite (and any database with INSERT ... RETURNING): multi-row inserts, executemany."""

    def inserts(self, contacts: list[Contact]) -> _Run:
        per_statement = min(1000, (connection.features.max_query_params or 65_535) // len(_CONTACT_FIELDS))
        head = "INSERT INTO {} ({}) VALUES ".format(
            _quote(Contact._meta.db_table), ", ".join(_quote(f.column) for f in _CONTACT_FIELDS)
        )
        row = "(" + ", ".join(["%s"] * len(_CONTACT_FIELDS)) + ")"
        statements = []
        for start in range(0, len(contacts), per_statement):
            batch = contacts[start : start + per_statement]
            params = [
                f.get_db_prep_save(getattr(c, f.attname), connection) for c in batch for f in _CONTACT_FIELDS
            ]
            statements.append(
                (
                    head + ", ".join([row] * len(batch)) + f" RETURNING {_quote(Contact._meta.pk.column)}",
                    params,
                )
            )

        def run(cursor) -> None:
            pks: list[int] = []
            for sql, params in statements:
                cursor.execute(sql, params)
                pks.extend(r[0] for r in cursor.fetchall())  # in VALUES order, as bulk_create relies on
            for contact, pk in zip(contacts, pks, strict=True):
                contact.pk = pk

        return run

    def updates(self, contacts: list[Contact], fields: list[str]) -> _Run:
        columns = [Contact._meta.get_field(name) for name in fields]
        sql = "UPDATE {} SET {} WHERE {} = %s".format(
            _quote(Contact._meta.db_table),
            ", ".join(f"{_quote(c.column)} = %s" for c in columns),
            _quote(Contact._meta.pk.column),
        )
        params = [
            [col.get_db_prep_save(getattr(c, col.attname), connection) for col in columns] + [c.pk]
            for c in contacts
        ]
        return lambda cursor: cursor.executemany(sql, params) if params else None

    def links(self, links: list[tuple[int, int]]) -> _Run:
        table, contact, tag = _link_table()
        insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)  # INSERT OR IGNORE INTO
        suffix = connection.ops.on_conflict_suffix_sql(None, OnConflict.IGNORE, None, None)
        sql = f"{insert} {table} ({contact}, {tag}) VALUES (%s, %s) {suffix}"
        return lambda cursor: cursor.executemany(sql, links) if links else None


class _PostgresSql(_PortableSql):
    """PostgreSQL: one array per column through unnest(), so a statement carries 10,000 rows in a
    dozen parameters. Contact ids are drawn from the sequence first, so no RETURNING order is
    relied on (a failed import only leaves a gap in the ids)."""

    BATCH = 10_000

    @staticmethod
    def _array(field, values: list) -> tuple[str, list]:
        if isinstance(field, models.JSONField):
            return "%s::jsonb[]", [json.dumps(v, cls=field.encoder) for v in values]
        return f"%s::{field.db_type(connection)}[]", [field.get_db_prep_save(v, connection) for v in values]

    def _arrays(self, contacts: list[Contact], fields: list) -> tuple[list[str], list[list]]:
        casts, params = [], []
        for field in fields:
            cast, values = self._array(field, [getattr(c, field.attname) for c in contacts])
            casts.append(cast)
            params.append(values)
        return casts, params

    def inserts(self, contacts: list[Contact]) -> _Run:
        if not contacts:
            return _execute_all([])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Contact._meta.db_table, len(contacts)],
            )
            for contact, (pk,) in zip(contacts, cursor.fetchall(), strict=True):
                contact.pk = pk
        fields = [Contact._meta.pk, *_CONTACT_FIELDS]
        head = "INSERT INTO {} ({}) SELECT * FROM unnest({{}})".format(
            _quote(Contact._meta.db_table), ", ".join(_quote(f.column) for f in fields)
        )
        statements = []
        for start in range(0, len(contacts), self.BATCH):
            casts, params = self._arrays(contacts[start : start + self.BATCH], fields)
            statements.append((head.format(", ".join(casts)), params))
        return _execute_all(statements)

    def updates(self, contacts: list[Contact], fields: list[str]) -> _Run:
        columns = [Contact._meta.pk] + [Contact._meta.get_field(name) for name in fields]
        names = [_quote(c.column) for c in columns]
        head = "UPDATE {table} AS t SET {sets} FROM unnest({{}}) AS v({names}) WHERE t.{id} = v.{id}".format(
            table=_quote(Contact._meta.db_table),
            sets=", ".join(f"{n} = v.{n}" for n in names[1:]),
            names=", ".join(names),
            id=names[0],
        )
        statements = []
        for start in range(0, len(contacts), self.BATCH):
            casts, params = self._arrays(contacts[start : start + self.BATCH], columns)
            statements.append((head.format(", ".join(casts)), params))
        return _execute_all(statements)

    def links(self, links: list[tuple[int, int]]) -> _Run:
        table, contact, tag = _link_table()
        sql = (
            f"INSERT INTO {table} ({contact}, {tag}) SELECT * FROM unnest(%s::bigint[], %s::bigint[]) "
            "ON CONFLICT DO NOTHING"
        )
        size = 5 * self.BATCH
        return _execute_all(
            [
                (sql, [[pk for pk, _ in links[i : i + size]], [tag_id for _, tag_id in links[i : i + size]]])
                for i in range(0, len(links), size)
            ]
        )


def _publish_imported(contact_import: ContactImport, created: list[Contact], counts: dict) -> None:
    group = workspace_group(contact_import.workspace_id, "contacts")
    if len(created) <= LIVE_ROWS_MAX:
        for contact in Contact.objects.filter(pk__in=[c.pk for c in created]).prefetch_related("tags"):
            publish(group, {"type": "contact.created", "id": contact.pk, "html": contact_row_html(contact)})
    html = render_to_string("contacts/import_banner.html", {"contact_import": contact_import, **counts})
    publish(group, {"type": "contacts.imported", "id": contact_import.pk, "html": html})


class ImportConflict(Exception):
    """The data changed under the import between its check and its write."""
