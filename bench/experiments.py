"""Time to compute an experiment's results (experiments.results.compute) on PostgreSQL for
1,000,000 exposed contacts and 100,000 conversions (issue 14: target ≤ 2 s), next to the raw
single-row INSERT rate measured in the same run on the same database as the yardstick.

    .venv/bin/python bench/experiments.py [--exposures 1000000] [--conversions 100000] [--repeat 5]
    BENCH_DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_experiments (the default)

The database is dropped and created again (consent events are append-only, so a throwaway
workspace could not be deleted), migrated, and loaded with COPY (cpaas.bulk.copy_values): the
contacts, one assignment each over two 50/50 arms across 14 days, the goal events (9 % of the
control and 11 % of the variant convert within the 7-day window) and as many events of another
name, one journey message per contact (2 % failed), 50,000 inbound replies (2,000 complaints) and
10,000 opt-outs; then VACUUM ANALYZE of those tables, as autovacuum would. Prints the median and best of --repeat
computations and the queries they made. The database is dropped at the end unless --keep."""

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import common  # bench/common.py (a bench runs as python bench/<name>.py)

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_experiments")
os.environ["DATABASE_URL"] = URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT))

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
START = NOW - dt.timedelta(days=14)
DAY_S = 86400


def rows_of(model, overrides: dict, count: int, vary):
    """(columns, rows) for cpaas.bulk.copy_values: every column of `model`, the field's default
    unless `overrides` names it, and `vary(i)` giving the per-row values (a dict)."""
    from django.db import models

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    base = {}
    for f in fields:
        if f.attname in overrides:
            value = overrides[f.attname]
        elif f.has_default() and not callable(f.default):
            value = f.get_default()
        elif f.has_default():
            value = None  # a callable default must be varied per row
        else:
            value = None if f.null else ("" if isinstance(f, models.CharField | models.TextField) else None)
        if isinstance(f, models.JSONField) and value is not None:
            value = json.dumps(value)
        base[f.attname] = value
    columns = list(base)

    def rows(start, stop):
        out = []
        for i in range(start, stop):
            row = base | vary(i)
            out.append(tuple(row[c] for c in columns))
        return out

    return columns, rows, count


def load(exposures: int, conversions: int):
    from django.db import connection, transaction

    from channels_app.models import Channel, Message
    from consent.models import ConsentEvent
    from contacts.models import Contact, Event
    from cpaas.bulk import copy_values
    from cpaas.models import Workspace
    from experiments.models import Experiment, ExperimentAssignment

    workspace = Workspace.objects.create(name="bench experiments", slug="bench-experiments")
    channel = Channel.objects.filter(workspace=workspace, kind="sms").first()
    experiment = Experiment.objects.create(
        workspace=workspace,
        journey_id=1,
        node="split",
        name="Promise-to-pay wording",
        variants=[
            {"exit": "a", "name": "Friendly", "weight": 50, "control": True},
            {"exit": "b", "name": "Firm", "weight": 50},
        ],
        goal_event="payment_completed",
        guardrails={"opt_out_rate": {"threshold": 0.01}, "delivery_failure_rate": {"threshold": 0.02}},
        prices={"sms": 0.04},
        baseline_rate=0.09,
        mde=0.1,
        sequential=True,
        status=Experiment.Status.RUNNING,
        started_at=START,
    )
    n = exposures
    timings = {}

    def timed(label, model, columns_rows, chunk=100_000):
        """COPY in chunks (bounded memory); the time includes building the rows in Python."""
        columns, rows, count = columns_rows
        t = time.perf_counter()
        with transaction.atomic():
            for start in range(0, count, chunk):
                copy_values(model, columns, rows(start, min(count, start + chunk)))
        timings[label] = (count, time.perf_counter() - t)

    timed("contacts", Contact, rows_of(Contact, {"workspace_id": workspace.pk, "created_at": NOW, "updated_at": NOW,
          "attributes": {}, "addresses": {}}, n, lambda i: {"phone": f"+4470{i:08d}"}))  # fmt: skip
    ids = list(Contact.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True))

    def exposed(i):
        return START + dt.timedelta(seconds=(i * 1_209_599) % (14 * DAY_S))  # spread over 14 days

    def arm(i):
        return "a" if i % 2 == 0 else "b"

    timed("assignments", ExperimentAssignment, rows_of(ExperimentAssignment, {"workspace_id": workspace.pk,
          "experiment_id": experiment.pk}, n, lambda i: {"contact_id": ids[i], "variant": arm(i),
          "exposed_at": exposed(i)}))  # fmt: skip
    # the conversions: the first `conversions` contacts by a rate per arm (9 % of a, 11 % of b)
    converting = []
    share = {"a": 0.9 * conversions / (n / 2), "b": 1.1 * conversions / (n / 2)}
    counters = {"a": 0.0, "b": 0.0}
    for i in range(n):
        a = arm(i)
        counters[a] += share[a]
        if counters[a] >= 1:
            counters[a] -= 1
            converting.append(i)
    converting = converting[:conversions]

    def event(i, name, offset_s):
        at = exposed(i) + dt.timedelta(seconds=offset_s)
        return {"contact_id": ids[i], "name": name, "occurred_at": min(at, NOW), "received_at": NOW}

    goal = [event(i, "payment_completed", 3600 + (i % 5) * DAY_S) for i in converting]
    noise = [event(i, "page_viewed", 600) for i in range(0, n, max(1, n // len(goal)))][: len(goal)]
    both = goal + noise
    timed("events", Event, rows_of(Event, {"workspace_id": workspace.pk, "properties": {}, "source": "api",
          "idempotency_key": None}, len(both), lambda i: both[i]))  # fmt: skip

    def message(i):
        at = exposed(i) + dt.timedelta(seconds=60)
        return {"contact_id": ids[i], "address": f"+4470{i:08d}", "status": "failed" if i % 50 == 0 else "delivered",
                "status_changed_at": at, "created_at": at, "reference": f"bench{i:027d}", "segments": 1 + i % 2,
                "journey_id": 1}  # fmt: skip

    base = {"workspace_id": workspace.pk, "channel_id": channel.pk, "kind": "sms", "direction": "out", "text": "Hi",
            "content": {}, "content_notes": [], "options": {}, "fallback_chain": []}  # fmt: skip
    timed("messages out", Message, rows_of(Message, base, n, message))
    replies = 50_000 if n >= 200_000 else n // 20
    step = max(1, n // replies)

    def reply(k):
        i = k * step
        at = exposed(i) + dt.timedelta(seconds=7200)
        return {"contact_id": ids[i], "address": f"+4470{i:08d}", "status": "received", "direction": "in",
                "status_changed_at": at, "created_at": at, "reference": f"benchin{k:025d}", "journey_id": None,
                "text": "this is spam" if k % 25 == 0 else "ok, paying tomorrow"}  # fmt: skip

    timed("messages in", Message, rows_of(Message, base, replies, reply))
    opt_outs = min(10_000, n // 100)

    def opt_out(k):
        i = k * (n // opt_outs)
        return {"contact_id": ids[i], "occurred_at": exposed(i) + dt.timedelta(hours=3), "recorded_at": NOW}

    timed("opt-outs", ConsentEvent, rows_of(ConsentEvent, {"workspace_id": workspace.pk, "channel_kind": "sms",
          "purpose": "marketing", "new_status": "opted_out", "previous_status": "opted_in", "actor_type": "keyword",
          "actor_label": "STOP", "method": "keyword", "reason": "STOP", "expires_at": None},
          opt_outs, opt_out))  # fmt: skip
    with connection.cursor() as cursor:
        for model in (Contact, ExperimentAssignment, Event, Message, ConsentEvent):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return experiment, timings, len(goal)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exposures", type=int, default=1_000_000)
    parser.add_argument("--conversions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database for a look afterwards")
    args = parser.parse_args()
    if not URL.startswith("postgres"):
        raise SystemExit("bench/experiments.py measures PostgreSQL: set BENCH_DATABASE_URL=postgres://...")
    common.recreate_database(URL, os.environ)

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from experiments import results

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    raw = common.raw_insert_rate(URL)
    print(f"baseline  raw single-row INSERT (autocommit)   {raw:>12,.0f} rows/s")
    t = time.perf_counter()
    experiment, timings, goal = load(args.exposures, args.conversions)
    print(f"loaded in {time.perf_counter() - t:.0f} s (COPY): " + ", ".join(
        f"{label} {rows:,} ({rows / s:,.0f} rows/s)" for label, (rows, s) in timings.items()))  # fmt: skip
    durations, queries, r = [], 0, None
    for _ in range(args.repeat):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            r = results.compute(experiment, now=NOW)
            durations.append(time.perf_counter() - start)
        queries = len(captured)
    exposures = sum(a["exposures"] for a in r["arms"])
    conversions = sum(a["conversions"] for a in r["arms"])
    print(f"results of {exposures:,} exposures, {conversions:,} conversions ({goal:,} goal events), "
          f"{len(r['series']['days'])} days, sequential mode:")  # fmt: skip
    print(
        f"compute   median {statistics.median(durations):6.2f} s, best {min(durations):6.2f} s "
        f"over {args.repeat} runs, {queries} queries  (target ≤ 2 s)"
    )
    print(f"summary   {r['summary']}")
    if not args.keep:
        connection.close()
        common.drop_database(URL)


if __name__ == "__main__":
    main()
