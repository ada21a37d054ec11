"""Decisions per second of consent.services.check_many for 10,000 contacts on the DATABASE_URL
database, next to a baseline measured in the same run: a plain SELECT of the same 10,000
contacts (rows per second). Figures only, no asserts.

    .venv/bin/python bench/consent.py [--contacts 10000] [--repeat 5]
    DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas .venv/bin/python bench/consent.py

Migrates the database, works in a throwaway workspace (about a third of the contacts opted in,
2% suppressed, 10% at their marketing cap, 20% inside the WhatsApp window, contacts spread over
four time zones) and deletes it at the end. Consent state is written straight to the records
table (no events), so the workspace can be deleted again: this measures reads, not writes."""

import argparse
import datetime as dt
import os
import statistics
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
from django.db import DatabaseError, connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from consent.addresses import address_hash  # noqa: E402
from consent.models import ConsentRecord, InboundRecord, SendRecord, Suppression  # noqa: E402
from consent.services import check_many  # noqa: E402
from contacts.models import Contact  # noqa: E402
from cpaas.models import Workspace  # noqa: E402

ZONES = ["Europe/London", "America/New_York", "Asia/Kolkata", ""]  # "" = the workspace's
AT = dt.datetime(2026, 5, 4, 15, 45, tzinfo=dt.UTC)  # daytime in London and New York, 21:15 in Kolkata


def setup(n: int) -> Workspace:
    workspace = Workspace.objects.create(name="bench consent", slug=f"bench-consent-{uuid.uuid4().hex[:8]}")
    Contact.objects.bulk_create(
        [
            Contact(
                workspace=workspace,
                first_name=f"P{i}",
                phone=f"+4479{i:08d}",
                email=f"p{i}@example.com",
                timezone=ZONES[i % 4],
                is_vulnerable=i % 97 == 0,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    contacts = list(Contact.objects.filter(workspace=workspace).order_by("pk"))
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                workspace=workspace, contact=c, channel_kind="sms", purpose="marketing", status="opted_in",
                lawful_basis="consent", captured_at=AT - dt.timedelta(days=30), confirmed_at=AT - dt.timedelta(days=30),
                last_event_id=0, updated_at=AT - dt.timedelta(days=30),
            )
            for i, c in enumerate(contacts) if i % 3 == 0
        ],
        batch_size=2000,
    )  # fmt: skip
    Suppression.objects.bulk_create(
        [
            Suppression(workspace=workspace, channel_kind="", address_kind="phone",
                        address_hash=address_hash("phone", c.phone), reason="admin", created_by_label="bench",
                        created_at=AT)
            for i, c in enumerate(contacts) if i % 50 == 0
        ],
        batch_size=2000,
    )  # fmt: skip
    SendRecord.objects.bulk_create(
        [
            SendRecord(workspace=workspace, contact=c, channel_kind="sms", purpose="marketing",
                       sent_at=AT - dt.timedelta(days=d + 1))
            for i, c in enumerate(contacts) if i % 10 == 0 for d in range(3)
        ],
        batch_size=2000,
    )  # fmt: skip
    InboundRecord.objects.bulk_create(
        [
            InboundRecord(workspace=workspace, contact=c, channel_kind="whatsapp", last_inbound_at=AT - dt.timedelta(hours=2))
            for i, c in enumerate(contacts) if i % 5 == 0
        ],
        batch_size=2000,
    )  # fmt: skip
    return workspace


def cleanup(workspace: Workspace) -> None:
    """Delete the throwaway workspace. If another app in this checkout has models without
    tables yet (the cascade then fails), delete the rows setup() wrote and leave the empty
    workspace, saying so."""
    try:
        workspace.delete()
    except DatabaseError as exc:
        for model in (InboundRecord, SendRecord, Suppression, ConsentRecord, Contact):
            model.objects.filter(workspace=workspace)._raw_delete(connection.alias)
        print(f"(left the empty workspace {workspace.slug}: {str(exc).splitlines()[0]})")


def timed(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    for stale in Workspace.objects.filter(
        slug__startswith="bench-consent-", contacts__isnull=False
    ).distinct():
        cleanup(stale)  # an interrupted run's
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']}), {args.contacts:,} contacts")
    workspace = setup(args.contacts)
    try:
        base_med, base_min, contacts = timed(
            args.repeat, lambda: list(Contact.objects.filter(workspace=workspace).select_related("workspace"))
        )
        n = len(contacts)
        print(
            f"baseline  SELECT of the contacts            {n / base_med:>12,.0f} rows/s   (median {base_med * 1000:7.1f} ms)"
        )
        cases = [
            ("sms marketing (opt-in, suppression, cap)", "sms", "marketing", {}),
            ("whatsapp transactional (24 h window)", "whatsapp", "transactional", {}),
            ("voice collections (quiet hours, vulnerable)", "voice", "collections", {}),
            ("email otp (suppression only)", "email", "otp", {}),
        ]
        for label, channel, purpose, kwargs in cases:
            with CaptureQueriesContext(connection) as queries:
                check_many(contacts, channel, purpose, AT, **kwargs)
            med, _min, decisions = timed(
                args.repeat, lambda c=channel, p=purpose, k=kwargs: check_many(contacts, c, p, AT, **k)
            )
            outcomes = {
                o: sum(d.outcome == o for d in decisions.values()) for o in ("allow", "deny", "defer")
            }
            print(
                f"check_many {label:<42} {n / med:>10,.0f} decisions/s  (median {med * 1000:7.1f} ms, "
                f"{len(queries)} queries, {med / base_med:4.1f}x the baseline; "
                f"allow {outcomes['allow']:,} deny {outcomes['deny']:,} defer {outcomes['defer']:,})"
            )
        med, _min, _ = timed(
            args.repeat,
            lambda: check_many(
                list(Contact.objects.filter(workspace=workspace).select_related("workspace")),
                "sms",
                "marketing",
                AT,
            ),
        )
        print(
            f"load + check_many sms marketing                {n / med:>10,.0f} decisions/s  (median {med * 1000:7.1f} ms)"
        )
    finally:
        cleanup(workspace)


if __name__ == "__main__":
    main()
