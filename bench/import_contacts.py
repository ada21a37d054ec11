"""Imports a generated 100,000-row CSV through the import service (not the web) on the
DATABASE_URL database, then imports it again (every row an update), and prints rows/s for the
check and the write of each, next to a baseline measured in the same run: Django bulk_create
of the same number of bare contacts in one transaction. Figures only, no asserts.

    .venv/bin/python bench/import_contacts.py [--rows 100000]
    DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas .venv/bin/python bench/import_contacts.py

Works in a throwaway workspace that it deletes at the end."""

import argparse
import os
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query (and its SQL) in memory

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from contacts import imports  # noqa: E402
from contacts.models import AttributeDefinition, Contact, ContactImport  # noqa: E402
from cpaas.models import Workspace  # noqa: E402
from cpaas.tenancy import Actor  # noqa: E402

FIRST = ["Ann", "Bob", "Chloé", "Dara", "Emeka", "Fatima", "Gus", "Hana", "Ivan", "Jo"]
LAST = ["Lee", "Ray", "Kim", "O'Neil", "Smith, Jr", "Nowak", "Silva", "Okafor", "Chen", "Diaz"]


def make_csv(rows: int) -> bytes:
    lines = ["external_id,first_name,last_name,phone,email,language,tags,plan"]
    for i in range(rows):
        # Half the numbers in national format with spaces, half in E.164, as real exports mix.
        phone = f"+4479{i:08d}" if i % 2 else f"079 {i // 10_000:04d} {i % 10_000:04d}"
        last = LAST[i // 10 % 10]
        lines.append(
            f'C-{i:07d},{FIRST[i % 10]},"{last}",{phone},person{i}@example.com,en,'
            f'"customers,{"gold" if i % 7 == 0 else "standard"}",plan-{i % 3}'
        )
    return ("\n".join(lines) + "\n").encode()


class Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.marks: dict[str, float] = {}

    def mark(self, name, func, after=False):
        def marked(*args, **kwargs):
            if not after:
                self.marks[name] = time.perf_counter()
            result = func(*args, **kwargs)
            if after:
                self.marks[name] = time.perf_counter()
            return result

        return marked

    def span(self, first: str, last: str) -> float:
        return self.marks[last] - self.marks[first]

    def wrap(self, name, func):
        def timed(**kwargs):
            start = time.perf_counter()
            try:
                return func(**kwargs)
            finally:
                self.seconds[name] = time.perf_counter() - start

        return timed


def run_import(workspace, content: bytes, rows: int, label: str) -> None:
    start = time.perf_counter()
    contact_import = imports.import_upload(
        workspace=workspace,
        actor=Actor.system("bench"),
        filename="bench.csv",
        content=content,
        tag_names="bench",
    )
    upload_s = time.perf_counter() - start
    # What import_start does, without enqueueing: this process runs the import itself.
    contact_import.mapping = imports.mapping_clean(
        mapping=contact_import.mapping, headers=contact_import.headers, workspace=workspace
    )
    contact_import.status = ContactImport.Status.QUEUED
    contact_import.save(update_fields=["mapping", "status"])
    timer = Timer()
    # Time the two phases, and the write transaction from its first call to its last (how long
    # it holds SQLite's write lock), by wrapping the functions the task calls.
    patches = [
        (imports.rows, "import_validate", timer.wrap("validate", imports.rows.import_validate)),
        (imports.writing, "import_write", timer.wrap("write", imports.writing.import_write)),
        (imports.writing, "tags_ensure", timer.mark("transaction opened", imports.writing.tags_ensure)),
        (
            imports.writing,
            "_publish_imported",
            timer.mark("transaction work done", imports.writing._publish_imported, after=True),
        ),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, wrapped in patches:
        setattr(module, name, wrapped)
    try:
        start = time.perf_counter()
        outcome = imports.import_run(import_id=contact_import.pk)
        total_s = time.perf_counter() - start
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    contact_import.refresh_from_db()
    if outcome != "completed":
        print(f"{label}: {outcome}: {contact_import.failure_reason} {contact_import.errors[:3]}")
        return
    counts = f"{contact_import.created_count:,} created, {contact_import.updated_count:,} updated"
    line(f"{label}: upload check (decode, parse, count)", upload_s, rows)
    line(f"{label}: validate (pass 1)", timer.seconds["validate"], rows)
    line(f"{label}: write, one transaction ({counts})", timer.seconds["write"], rows)
    line(
        f"{label}:   of which inside the transaction",
        timer.span("transaction opened", "transaction work done"),
        rows,
    )
    line(f"{label}: whole task (validate + write + status)", total_s, rows)


def baseline(rows: int) -> None:
    workspace = Workspace.objects.create(name="bench baseline", slug=f"bench-base-{uuid.uuid4().hex[:8]}")
    try:
        contacts = [
            Contact(workspace=workspace, phone=f"+4479{i:08d}", first_name=FIRST[i % 10], last_name="Lee")
            for i in range(rows)
        ]
        start = time.perf_counter()
        with transaction.atomic():
            Contact.objects.bulk_create(contacts, batch_size=1000)
        line("baseline: bulk_create of bare contacts, one transaction", time.perf_counter() - start, rows)
    finally:
        cleanup(workspace)


def cleanup(workspace) -> None:
    with transaction.atomic():
        Contact.tags.through.objects.filter(contact__workspace=workspace).delete()
        Contact.objects.filter(workspace=workspace).delete()
        workspace.delete()


def line(label: str, seconds: float, rows: int) -> None:
    print(f"  {label:<62} {seconds:7.2f} s {rows / seconds:>10,.0f} rows/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    content = make_csv(rows)
    print(
        f"contact import: {rows:,} rows, {len(content) / 1_048_576:.1f} MB CSV, "
        f"{connection.vendor} ({connection.settings_dict['NAME']})"
    )
    workspace = Workspace.objects.create(name="bench import", slug=f"bench-import-{uuid.uuid4().hex[:8]}")
    AttributeDefinition.objects.create(workspace=workspace, key="plan", label="Plan", type="text")
    try:
        run_import(workspace, content, rows, "new")
        run_import(workspace, content, rows, "again")
    finally:
        cleanup(workspace)
    baseline(rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory of this process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
