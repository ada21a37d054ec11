"""Server time of the home dashboard, the messaging health page, a journey's analytics page and the
KPI reports over a workspace with
10,000,000 messages and 1,000,000 enrolments on PostgreSQL (issue 15: target ≤ 500 ms a page),
the rollups' refresh (one day rebuilt from raw, and the every-minute incremental run), and the
same figures counted raw in the same run as the yardstick.

    .venv/bin/python bench/analytics.py [--scale 1.0] [--repeat 5] [--keep]
    BENCH_DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_analytics (the default)

--scale 0.1 builds a tenth (1,000,000 messages, 100,000 enrolments) for a quick run. The database
is dropped and created again, migrated, and loaded with COPY (cpaas.bulk.copy_values): contacts,
20 live journeys, enrolments over 90 days (20 % reach the goal), messages over 90 days on three
sandbox channels in every status (failed ones with Twilio codes, blocked ones with a consent rule,
70 % from a journey, send and receipt times for the latency histograms), consent events (a third
opt-outs) and suppressions; VACUUM ANALYZE as autovacuum would. Then the rollups are built once
(timed), and each page is asked --repeat times through Django's test client as an admin (the
server's time: view, queries, template). The database is dropped at the end unless --keep."""

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
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_analytics")
os.environ["DATABASE_URL"] = URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT))

DAYS = 90
DAY_S = 86400
STATUSES = (["delivered"] * 70 + ["read"] * 8 + ["sent"] * 6 + ["failed"] * 6 + ["blocked"] * 3 + ["unknown"] * 1
            + ["queued"] * 1 + ["received"] * 5)  # fmt: skip
CODES = ["30003", "30005", "30006", "30007", "21610", "21614"]
RULES = ["suppression", "no_consent", "frequency_cap", "quiet_hours"]
# Journey 00 asks for promises to pay (its messages are the promise-to-pay report's), so the
# journey analytics page and the KPI reports read a journey with 1/20 of the journey messages.
PTP_GRAPH = {"schema": 1, "start": "trigger", "nodes": {
    "trigger": {"type": "trigger.event", "config": {"event": "overdue"}, "exits": {"next": "ptp"}},
    "ptp": {"type": "payment.promise", "config": {"template": {"en": "When can you pay?"}, "timeout_s": 86400},
            "exits": {"paid": None, "broken": None, "no_response": None, "failed": None}}}}  # fmt: skip


def rows_of(model, overrides: dict, count: int, vary):
    """(columns, rows(start, stop), count) for cpaas.bulk.copy_values: every column of `model`,
    the field's default unless `overrides` names it, and `vary(i)` the per-row values."""
    from django.db import models

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    base = {}
    for f in fields:
        if f.attname in overrides:
            value = overrides[f.attname]
        elif f.has_default() and not callable(f.default):
            value = f.get_default()
        elif f.has_default():
            value = None
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


def load(scale: float, now: dt.datetime):
    from django.db import connection, transaction

    from channels_app.models import Channel, Message
    from consent.models import ConsentEvent, Suppression
    from contacts.models import Contact
    from cpaas.bulk import copy_values
    from cpaas.models import Membership, Workspace
    from journeys.models import Enrollment, Journey, JourneyVersion
    from tests.factories import UserFactory

    workspace = Workspace.objects.create(
        name="bench analytics", slug="bench-analytics", timezone="America/Sao_Paulo"
    )
    user = UserFactory(username="bench-admin")
    Membership.objects.create(workspace=workspace, user=user, role="admin")
    channels = list(
        Channel.objects.filter(workspace=workspace, kind__in=["sms", "whatsapp", "email"]).order_by("kind")
    )
    journeys = []
    for k in range(20):
        j = Journey.objects.create(workspace=workspace, name=f"Journey {k:02d}", status="live")
        v = JourneyVersion.objects.create(journey=j, number=1, graph=PTP_GRAPH if k == 0 else {})
        Journey.objects.filter(pk=j.pk).update(live_version=v)
        journeys.append((j.pk, v.pk))
    n_contacts, n_messages, n_enrol = int(200_000 * scale), int(10_000_000 * scale), int(1_000_000 * scale)
    n_consent, n_supp = int(60_000 * scale), int(5_000 * scale)
    start = now - dt.timedelta(days=DAYS)
    timings = {}

    def at(i, n):
        return start + dt.timedelta(seconds=(i * (DAYS * DAY_S - 1) // max(1, n)) % (DAYS * DAY_S))

    def timed(label, model, columns_rows, chunk=50_000):
        columns, rows, count = columns_rows
        t = time.perf_counter()
        for s in range(0, count, chunk):
            with transaction.atomic():
                copy_values(model, columns, rows(s, min(count, s + chunk)))
        timings[label] = (count, time.perf_counter() - t)
        print(f"  loaded {label}: {count:,} in {timings[label][1]:.0f} s", flush=True)

    timed("contacts", Contact, rows_of(Contact, {"workspace_id": workspace.pk, "created_at": now, "updated_at": now,
          "attributes": {}, "addresses": {}}, n_contacts, lambda i: {"phone": f"+5511{i:09d}"}))  # fmt: skip
    ids = list(Contact.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True))

    def message(i):
        created = at(i, n_messages)
        status = STATUSES[(i * 7) % len(STATUSES)]
        channel = channels[i % 3]
        row = {"contact_id": ids[i % n_contacts], "channel_id": channel.pk, "kind": channel.kind,
               "address": f"+5511{i % n_contacts:09d}", "status": status, "status_changed_at": created,
               "created_at": created, "reference": f"b{i:031d}", "segments": 1 + i % 2,
               "journey_id": journeys[i % 20][0] if i % 10 < 7 and status != "received" else None,
               "origin": "journey" if i % 10 < 7 and status != "received" else "api",
               "origin_ref": f"journey:{journeys[i % 20][0]}/ptp" if i % 10 < 7 and status != "received" else "",
               "direction": "in" if status == "received" else "out",
               "purpose": "marketing" if i % 3 else "transactional",
               "sent_at": None, "delivered_at": None, "error_code": "", "consent_rule": ""}  # fmt: skip
        if status in ("sent", "delivered", "read", "failed", "unknown"):
            row["sent_at"] = created + dt.timedelta(milliseconds=(i * 7919) % 30_000)
        if status in ("delivered", "read"):
            row["delivered_at"] = row["sent_at"] + dt.timedelta(milliseconds=(i * 104_729) % 600_000)
        if status == "failed":
            row["error_code"] = CODES[i % len(CODES)]
        if status == "blocked":
            row["consent_rule"], row["error_code"] = RULES[i % len(RULES)], "consent"
        return row

    base = {"workspace_id": workspace.pk, "text": "Hello", "content": {}, "content_notes": [], "options": {},
            "fallback_chain": [], "sealed": "", "idempotency_key": None, "provider_message_id": None}  # fmt: skip
    timed("messages", Message, rows_of(Message, base, n_messages, message))

    def enrolment(i):
        entered = at(i, n_enrol)
        jid, vid = journeys[i % 20]
        goal = i % 5 == 0
        return {"journey_id": jid, "version_id": vid, "contact_id": ids[i % n_contacts],
                "status": "goal" if goal else ("completed" if i % 5 < 4 else "waiting"), "node": "end",
                "entered_at": entered, "ended_at": entered + dt.timedelta(hours=1 + i % 48) if i % 5 < 4 else None,
                "active_lock": None, "trigger_key": None, "due_at": None}  # fmt: skip

    timed("enrolments", Enrollment, rows_of(Enrollment, {"workspace_id": workspace.pk, "context": {}, "state": {},
          "wait_match": {}, "guard": {}}, n_enrol, enrolment))  # fmt: skip

    def consent(i):
        when = at(i, n_consent)
        out = i % 3 == 0
        return {"contact_id": ids[(i * 13) % n_contacts], "channel_kind": ["sms", "whatsapp", "email"][i % 3],
                "purpose": "marketing" if i % 2 else "collections", "new_status": "opted_out" if out else "opted_in",
                "previous_status": "opted_in" if out else "", "occurred_at": when, "recorded_at": when}  # fmt: skip

    timed("consent events", ConsentEvent, rows_of(ConsentEvent, {"workspace_id": workspace.pk, "actor_type": "system",
          "actor_label": "bench", "method": "keyword", "reason": "bench", "expires_at": None}, n_consent, consent))  # fmt: skip
    timed("suppressions", Suppression, rows_of(Suppression, {"workspace_id": workspace.pk, "address_kind": "phone",
          "created_by_label": "bench", "contact_id": None}, n_supp,
          lambda i: {"channel_kind": "sms" if i % 2 else "", "address_hash": f"{i:064d}",
                     "reason": ["keyword", "admin", "complaint"][i % 3], "created_at": at(i, n_supp)}))  # fmt: skip
    with connection.cursor() as cursor:
        for model in (Contact, Message, Enrollment, ConsentEvent, Suppression):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return workspace, user, timings


def timed_runs(fn, repeat: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    durations, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            t = time.perf_counter()
            fn()
            durations.append(time.perf_counter() - t)
        queries = len(captured)
    return statistics.median(durations), min(durations), queries


def raw_home(workspace, start, end):
    """The home page's message, journey and consent figures counted raw (what rollups avoid)."""
    from django.db.models import Count

    from channels_app.models import Message
    from consent.models import ConsentEvent
    from journeys.models import Enrollment

    window = dict(workspace=workspace, created_at__gte=start, created_at__lt=end)
    list(Message.objects.filter(**window).values("kind", "status").annotate(n=Count("id")).order_by())
    list(
        Message.objects.filter(**window, status="failed")
        .values("journey_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    list(Enrollment.objects.filter(workspace=workspace, entered_at__gte=start, entered_at__lt=end)
         .values("journey_id").annotate(n=Count("id")).order_by())  # fmt: skip
    list(Enrollment.objects.filter(workspace=workspace, status="goal", ended_at__gte=start, ended_at__lt=end)
         .values("journey_id").annotate(n=Count("id")).order_by())  # fmt: skip
    list(ConsentEvent.objects.filter(workspace=workspace, recorded_at__gte=start, recorded_at__lt=end)
         .values("channel_kind", "purpose", "new_status").annotate(n=Count("id")).order_by())  # fmt: skip


def raw_health(workspace, start, end):
    """Delivery by channel and the latency percentiles counted raw (PostgreSQL percentile_cont)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT kind, status, count(*) FROM channels_app_message
               WHERE workspace_id = %s AND created_at >= %s AND created_at < %s GROUP BY kind, status""",
            [workspace.pk, start, end],
        )
        cursor.fetchall()
        cursor.execute(
            """SELECT kind, percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP
                 (ORDER BY extract(epoch FROM sent_at - created_at))
               FROM channels_app_message WHERE workspace_id = %s AND created_at >= %s AND created_at < %s
               AND sent_at IS NOT NULL GROUP BY kind""",
            [workspace.pk, start, end],
        )
        cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0: 10,000,000 messages, 1,000,000 enrolments"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database for a look afterwards")
    args = parser.parse_args()
    if not URL.startswith("postgres"):
        raise SystemExit("bench/analytics.py measures PostgreSQL: set BENCH_DATABASE_URL=postgres://...")
    common.recreate_database(URL, os.environ)

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from analytics import rollups
    from analytics.dashboard import period_of, today
    from analytics.models import Rollup

    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']}), scale {args.scale}")
    now = timezone.now()
    t = time.perf_counter()
    workspace, user, timings = load(args.scale, now)
    print(f"loaded in {time.perf_counter() - t:.0f} s (COPY): " + ", ".join(
        f"{label} {rows:,} ({rows / s:,.0f} rows/s)" for label, (rows, s) in timings.items()))  # fmt: skip
    t = time.perf_counter()
    rollups.refresh(now=now)
    build = time.perf_counter() - t
    n_rollups = Rollup.objects.filter(workspace=workspace).count()
    print(f"rollups   first build of {DAYS} days: {build:7.1f} s, {n_rollups:,} rows")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE analytics_rollup")
    day = today(workspace, now) - dt.timedelta(days=3)
    d0, d1 = rollups.day_bounds(workspace, day)
    median, best, queries = timed_runs(
        lambda: rollups.rebuild(workspace=workspace, start=d0, end=d1), args.repeat
    )
    print(
        f"rollups   rebuild one day from raw:      median {median * 1000:8.0f} ms, best {best * 1000:8.0f} ms, {queries} queries"
    )
    clock = [now]

    def minute():
        clock[0] += dt.timedelta(minutes=1)
        rollups.refresh(now=clock[0])

    median, best, queries = timed_runs(minute, args.repeat)
    print(
        f"rollups   every-minute refresh:          median {median * 1000:8.0f} ms, best {best * 1000:8.0f} ms, {queries} queries"
    )
    client = Client()
    client.force_login(user)
    last = today(workspace, now)
    period = period_of(workspace, last - dt.timedelta(days=29), last)
    journey_00 = workspace.journeys.order_by("name").first().pk
    for label, url in (
        ("home dashboard, 30 days", "/?range=30d"),
        ("home dashboard, 90 days", "/?range=90d"),
        ("messaging health, 30 days", "/analytics/health/?range=30d"),
        ("journey analytics, 30 days", f"/analytics/journeys/{journey_00}/"),
        ("KPI promise to pay, 30 d", "/analytics/kpis/promise-to-pay/"),
        ("KPI call warm-up, 30 d", "/analytics/kpis/call-warmup/"),
        ("KPI OTP onboarding, 30 d", "/analytics/kpis/otp/"),
        ("KPI lifecycle, 30 d", "/analytics/kpis/lifecycle/"),
    ):

        def get(url=url):
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        median, best, queries = timed_runs(get, args.repeat)
        flag = "ok" if median <= 0.5 else "OVER"
        print(
            f"page      {label:28s} median {median * 1000:8.0f} ms, best {best * 1000:8.0f} ms, {queries} queries ({flag}: target ≤ 500 ms)"
        )
    median, best, queries = timed_runs(lambda: raw_home(workspace, period.start, period.end), args.repeat)
    print(
        f"baseline  home figures counted raw, 30 d: median {median * 1000:8.0f} ms, best {best * 1000:8.0f} ms, {queries} queries"
    )
    median, best, queries = timed_runs(lambda: raw_health(workspace, period.start, period.end), args.repeat)
    print(
        f"baseline  health counted raw, 30 d:      median {median * 1000:8.0f} ms, best {best * 1000:8.0f} ms, {queries} queries"
    )
    if not args.keep:
        connection.close()
        common.drop_database(URL)


if __name__ == "__main__":
    main()
