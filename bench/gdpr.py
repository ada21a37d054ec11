"""How long one GDPR erasure takes in a busy workspace on the DATABASE_URL database: N contacts
with messages and events, a stored contact import of N lines, audit entries; then the erasure
of one contact (its rows, the upload scrub, the audit scrub and the free-text sweep over every
table of the workspace), timed per app. Figures only, no asserts.

    .venv/bin/python bench/gdpr.py [--contacts 20000] [--messages 5]
    DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas .venv/bin/python bench/gdpr.py

Migrates the database, works in a throwaway workspace and deletes it at the end."""

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from channels_app.models import Channel, Message  # noqa: E402
from contacts.models import Contact, ContactImport, Event  # noqa: E402
from cpaas import gdpr  # noqa: E402
from cpaas.models import AuditEntry, Workspace  # noqa: E402
from cpaas.tenancy import Actor  # noqa: E402

AT = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


def setup(n: int, per: int) -> Workspace:
    workspace = Workspace.objects.create(name="bench gdpr", slug=f"bench-gdpr-{uuid.uuid4().hex[:8]}")
    Contact.objects.bulk_create(
        [
            Contact(workspace=workspace, first_name=f"P{i}", last_name="Bench", phone=f"+4479{i:08d}",
                    email=f"p{i}@example.com")
            for i in range(n)
        ],
        batch_size=2000,
    )  # fmt: skip
    contacts = list(Contact.objects.filter(workspace=workspace).order_by("pk").values_list("pk", "phone"))
    sms = Channel.objects.get(workspace=workspace, kind="sms", provider="sandbox")
    Message.objects.bulk_create(
        [
            Message(workspace=workspace, contact_id=pk, channel=sms, kind="sms", address=phone,
                    text=f"Hello P{i}, your order {k} is on its way", status="delivered",
                    status_changed_at=AT, created_at=AT)
            for i, (pk, phone) in enumerate(contacts)
            for k in range(per)
        ],
        batch_size=2000,
    )  # fmt: skip
    Event.objects.bulk_create(
        [
            Event(workspace=workspace, contact_id=pk, name="order", properties={"order": i, "phone": phone},
                  occurred_at=AT)
            for i, (pk, phone) in enumerate(contacts)
        ],
        batch_size=2000,
    )  # fmt: skip
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(workspace=workspace, actor_type="system", actor_label="bench", action="contacts.contact.created",
                       target_type="contacts.contact", target_id=str(pk), target_label=f"P{i} Bench",
                       created_at=AT)
            for i, (pk, _phone) in enumerate(contacts)
        ],
        batch_size=2000,
    )  # fmt: skip
    lines = ["phone,first_name,last_name,email"] + [
        f"0{phone[3:7]} {phone[7:]},P{i},Bench,p{i}@example.com" for i, (_pk, phone) in enumerate(contacts)
    ]
    ContactImport.objects.create(
        workspace=workspace, filename="bench.csv", content="\n".join(lines).encode(), headers=lines[0].split(","),
        mapping={"phone": "phone", "first_name": "first_name", "last_name": "last_name", "email": "email"},
        status="completed",
    )  # fmt: skip
    return workspace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=5, help="messages per contact")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(
        f"database: {connection.vendor} ({connection.settings_dict['NAME']}), {args.contacts:,} contacts, "
        f"{args.contacts * args.messages:,} messages, {args.contacts:,} events, audit entries and CSV lines"
    )
    workspace = setup(args.contacts, args.messages)
    try:
        timings = {}
        for name, registration in gdpr.registrations().items():

            def timed(subject, fn=registration.erase, name=name):
                start = time.perf_counter()
                result = fn(subject)
                timings[name] = time.perf_counter() - start
                return result

            gdpr._registry[name] = dataclasses.replace(registration, erase=timed)
        contact = Contact.objects.filter(workspace=workspace).order_by("pk")[args.contacts // 2]
        start = time.perf_counter()
        with transaction.atomic():
            gdpr.contact_erase(
                contact=contact, actor=Actor.system("bench"), reason="bench", confirmation="ERASE", at=AT
            )
        total = time.perf_counter() - start
        print(f"one erasure: {total * 1000:8.0f} ms in all")
        for name, seconds in timings.items():
            print(f"  {name:<14} {seconds * 1000:8.0f} ms")
    finally:
        workspace.delete()


if __name__ == "__main__":
    main()
