"""Messages per second from `queued` to handed to the sandbox provider, with 2 dispatcher
processes (`manage.py dispatcher`), on the DATABASE_URL database; and, in the same run, raw
single-row INSERTs per second (autocommit) on the same database as the yardstick. Figures only.

    DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas .venv/bin/python bench/dispatch.py
    .venv/bin/python bench/dispatch.py --messages 20000 --workers 2 --batch 500 [--receipts]

Migrates the database, starts the workers and waits until they are up, then queues the messages
in one transaction through the send service (consent checked, one row per message) and times
from that commit until the last one is `sent`. The sandbox channel's rate limit is lifted and
its delivery receipts are off unless --receipts (then the workers also apply receipts meanwhile).
Works in a throwaway workspace per run that it deletes at the end. Runs alternate (--rounds)
between dispatchers that decide consent again at hand-over (the product) and dispatchers whose
hand-over decision is patched out in the benchmark only, and print the ratio of the best of each
(issue 10: at least 0.9x)."""

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from channels_app.models import Channel, Message  # noqa: E402
from channels_app.services.messages import message_send_batch  # noqa: E402
from contacts.models import Contact  # noqa: E402
from cpaas.models import Workspace  # noqa: E402


def raw_inserts_per_second(n: int = 3000) -> float:
    """Single-row INSERTs, each its own transaction (autocommit), on the same database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_dispatch_raw (id serial PRIMARY KEY, v text)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE IF NOT EXISTS bench_dispatch_raw (id INTEGER PRIMARY KEY, v text)"
        )
        start = time.perf_counter()
        for i in range(n):
            cursor.execute("INSERT INTO bench_dispatch_raw (v) VALUES (%s)", [f"row {i}"])
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_dispatch_raw")
    return n / elapsed


# The yardstick for "consent at hand-over" (issue 10: >= 0.9 x the rate without it): a dispatcher
# whose hand-over decision is patched out, in this benchmark's own process only. The product has no
# switch that skips consent.
WITHOUT_HANDOVER = (
    "import sys, django; django.setup(); "
    "from channels_app import consent_gate; consent_gate.handover = lambda messages, **kw: messages; "
    "from django.core.management import call_command; call_command('dispatcher', *sys.argv[1:])"
)


def start_workers(count: int, batch: int, handover: bool = True) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CHANNELS_POLL_S": "0.02"}
    command = [str(ROOT / "manage.py"), "dispatcher"] if handover else ["-c", WITHOUT_HANDOVER]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                *command,
                "--batch",
                str(batch),
                "--max-seconds",
                "600",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]
    for worker in workers:  # wait until each has started its loop
        line = worker.stdout.readline()
        if "started" not in line:
            raise SystemExit(f"dispatcher did not start: {line}{worker.stdout.read()[:2000]}")
    return workers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--receipts", action="store_true", help="let the sandbox send delivery receipts")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs with and without consent at hand-over, alternating"
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    raw = raw_inserts_per_second()
    print(f"raw single-row INSERT (autocommit): {raw:,.0f} rows/s")
    rates: dict[bool, list[float]] = {True: [], False: []}
    for i in range(args.rounds):
        for handover in (False, True) if i % 2 == 0 else (True, False):  # neither always goes first
            rate = run(args, handover)
            rates[handover].append(rate)
            print(f"ratio to raw single-row INSERTs: {rate / raw:.2f}x")
    with_, without = max(rates[True]), max(rates[False])
    print(
        f"consent at hand-over: best {with_:,.0f} msgs/s with it, {without:,.0f} msgs/s without it "
        f"(same run): {with_ / without:.2f}x (target >= 0.9x)"
    )


def run(args, handover: bool) -> float:
    workspace = Workspace.objects.create(name="bench dispatch", slug=f"bench-dispatch-{uuid.uuid4().hex[:8]}")
    workers = []
    try:
        Contact.objects.bulk_create(
            [
                Contact(workspace=workspace, first_name=f"B{i}", phone=f"+4479{i:08d}")
                for i in range(args.messages)
            ],
            batch_size=2000,
        )
        contacts = list(Contact.objects.filter(workspace=workspace).order_by("pk"))
        sms = Channel.objects.get(workspace=workspace, kind="sms")
        Channel.objects.filter(pk=sms.pk).update(
            rate_limit_per_second=100_000, settings={} if args.receipts else {"sandbox": {"receipt": "none"}}
        )
        workers = start_workers(args.workers, args.batch, handover)

        started = time.perf_counter()
        messages, skipped = [], {}
        with transaction.atomic():
            for i in range(0, len(contacts), 10_000):  # the service's largest batch
                batch, missed = message_send_batch(
                    workspace=workspace,
                    contacts=contacts[i : i + 10_000],
                    channel="sms",
                    content={"text": "Your parcel arrives today."},
                    now=timezone.now(),
                )
                messages += batch
                skipped.update(missed)
        queued_in = time.perf_counter() - started
        assert not skipped and len(messages) == args.messages
        print(
            f"queued {len(messages):,} messages through the send service in {queued_in:.2f}s "
            f"({len(messages) / queued_in:,.0f}/s, one transaction)"
        )

        committed = time.perf_counter()
        pending = Message.objects.filter(workspace=workspace, status__in=["queued", "sending"])
        while pending.exists():
            if time.perf_counter() - committed > 600:
                raise SystemExit("timed out")
            if any(w.poll() is not None for w in workers):
                raise SystemExit("a dispatcher died: " + "".join(w.stdout.read()[:2000] for w in workers))
            time.sleep(0.05)
        elapsed = time.perf_counter() - committed
        sent = Message.objects.filter(workspace=workspace, status__in=["sent", "delivered"]).count()
        rate = sent / elapsed
        print(
            f"dispatched {sent:,} messages queued -> sent with {args.workers} worker processes "
            f"(batch {args.batch}{', receipts on' if args.receipts else ''}"
            f"{'' if handover else ', WITHOUT consent at hand-over'}) in {elapsed:.2f}s: {rate:,.0f} msgs/s"
        )
        return rate
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        workspace.delete()


if __name__ == "__main__":
    main()
