"""Multi-row inserts for the hot paths (journey rounds, batch sends): on PostgreSQL one
`nextval` query reserves the primary keys and `COPY ... FROM STDIN` writes the rows, several
times cheaper than `bulk_create` for wide rows (no per-field preparation, no UNNEST arrays);
elsewhere it is `bulk_create`. Either way the rows are written in the caller's transaction and
the objects come back with their primary keys set.

Django's cursor wrapper does not wrap `cursor.copy()`, so each COPY runs inside
`connection.wrap_database_errors`: a lost connection mid-COPY surfaces as Django's
OperationalError (and marks the connection unusable) like any other query's error."""

from __future__ import annotations

import json

from django.db import connection, models


def _columns(model) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _getters(fields) -> list:
    """One function per column that reads the value to write from an object (computed once per
    insert: this runs for every field of every row)."""

    def plain(attname):
        return lambda obj: getattr(obj, attname)

    def as_json(attname, encoder):
        def get(obj):
            value = getattr(obj, attname)
            return None if value is None else json.dumps(value, cls=encoder)

        return get

    def auto(field):
        return lambda obj: field.pre_save(obj, True)

    getters = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            getters.append(auto(f))
        elif isinstance(f, models.JSONField):
            getters.append(as_json(f.attname, f.encoder))
        else:
            getters.append(plain(f.attname))
    return getters


FEW = 3  # rows; as many or fewer go in one INSERT (insert_rows)


def insert_rows(model, objs: list, *, batch_size: int = 1000) -> list:
    """Insert `objs` (instances of `model`) and set their primary keys."""
    if not objs:
        return objs
    # a few rows: one INSERT ... RETURNING is one round trip, where COPY takes two (ids, rows)
    if connection.vendor != "postgresql" or len(objs) <= FEW:
        return model.objects.bulk_create(objs, batch_size=batch_size)
    meta = model._meta
    fields = _columns(model)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
        columns = ", ".join(quote(c) for c in [meta.pk.column] + [f.column for f in fields])
        getters = _getters(fields)
        with connection.wrap_database_errors, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([obj.pk] + [get(obj) for get in getters])
    alias = connection.alias
    for obj in objs:
        obj._state.adding, obj._state.db = False, alias
    return objs


def copy_values(model, columns: list[str], rows: list[tuple]) -> None:
    """Insert plain tuples (values in `columns` order, JSON columns already serialised as text)
    without building model instances: COPY on PostgreSQL, bulk_create elsewhere. For append-only
    rows nobody needs the ids of (journey steps)."""
    if not rows:
        return
    missing = {f.attname for f in _columns(model)} - set(columns)
    if missing:  # COPY would leave them NULL (Django defaults live in Python, not in the table)
        raise ValueError(f"copy_values({model.__name__}) needs every column; missing {sorted(missing)}")
    if connection.vendor != "postgresql":
        json_columns = {f.attname for f in model._meta.concrete_fields if isinstance(f, models.JSONField)}
        objs = []
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            for name in json_columns & values.keys():
                values[name] = json.loads(values[name])
            objs.append(model(**values))
        model.objects.bulk_create(objs, batch_size=1000)
        return
    quote = connection.ops.quote_name
    names = {f.attname: f.column for f in model._meta.concrete_fields}
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(names[c]) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def insert_ignoring_conflicts(model, objs: list, *, batch_size: int = 1000) -> list[int]:
    """`INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING RETURNING id` (PostgreSQL, and
    SQLite >= 3.35): the ids of the rows that went in, in no particular order. Unlike
    bulk_create(ignore_conflicts=True) it says which rows a unique constraint kept out, and on
    PostgreSQL it skips the slow UNNEST array path of bulk_create."""
    if not objs:
        return []
    if connection.vendor == "postgresql" and len(objs) > COPY_ABOVE:
        return _copy_ignoring_conflicts(model, objs)
    meta = model._meta
    fields = _columns(model)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    ids: list[int] = []
    for start in range(0, len(objs), batch_size):
        chunk = objs[start : start + batch_size]
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in chunk for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([one] * len(chunk))} "
                f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}",
                params,
            )
            ids += [row[0] for row in cursor.fetchall()]
    return ids


COPY_ABOVE = 50  # rows; fewer go in one INSERT ... VALUES


def _copy_ignoring_conflicts(model, objs: list) -> list[int]:
    """Many rows on PostgreSQL: COPY into a session's temporary table shaped like the target,
    then one `INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING id` (a long multi-row
    VALUES costs more to build and parse than the rows cost to write)."""
    from django.db import transaction

    meta = model._meta
    fields = _columns(model)
    quote = connection.ops.quote_name
    table, scratch = quote(meta.db_table), quote(f"_scratch_{meta.db_table}")
    columns = ", ".join(quote(f.column) for f in fields)
    getters = _getters(fields)
    with transaction.atomic(), connection.cursor() as cursor:  # the scratch rows live until commit
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS "
            f"AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        with connection.wrap_database_errors, cursor.copy(f"COPY {scratch} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([get(obj) for get in getters])
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {scratch} "
            f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"DELETE FROM {scratch}")  # an outer transaction may insert again
    return ids


def update_rows(model, objs: list, fields: list[str]) -> None:
    """Write `fields` of `objs` (rows that exist) in one statement: on PostgreSQL the values go
    by COPY into a scratch table and one `UPDATE ... FROM` applies them (bulk_update's CASE WHEN
    per row and field is slow for thousands of rows); elsewhere it is bulk_update."""
    if not objs:
        return
    if connection.vendor != "postgresql" or len(objs) <= FEW:
        model.objects.bulk_update(objs, fields, batch_size=1000)
        return
    import hashlib

    from django.db import transaction

    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    # one scratch table per set of columns (a session keeps it; its rows go at commit)
    digest = hashlib.sha1(",".join(c.column for c in columns).encode()).hexdigest()[:10]
    scratch = quote(f"_upd_{meta.db_table}_{digest}")
    names = [quote(meta.pk.column)] + [quote(c.column) for c in columns]
    getters = [lambda obj: obj.pk] + [
        (lambda attname: lambda obj: getattr(obj, attname))(c.attname) if not isinstance(c, models.JSONField)
        else (lambda attname, encoder: lambda obj: None if getattr(obj, attname) is None
              else json.dumps(getattr(obj, attname), cls=encoder))(c.attname, c.encoder)
        for c in columns
    ]  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS "
            f"AS SELECT {', '.join(names)} FROM {table} WITH NO DATA"
        )
        with (
            connection.wrap_database_errors,
            cursor.copy(f"COPY {scratch} ({', '.join(names)}) FROM STDIN") as copy,
        ):
            for obj in objs:
                copy.write_row([get(obj) for get in getters])
        assignments = ", ".join(f"{n} = s.{n}" for n in names[1:])
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM {scratch} AS s WHERE t.{names[0]} = s.{names[0]}"
        )
        cursor.execute(f"DELETE FROM {scratch}")  # an outer transaction may update again
