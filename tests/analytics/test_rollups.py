"""Rollups equal the raw counts after a run: per local day and per hour bucket, across an hour and
a day edge, in zones with whole-hour, half-hour and no offsets; a second run and a rebuild write
the same rows; status changes of old messages and new rows are picked up incrementally."""

import datetime as dt
import zoneinfo
from collections import Counter, defaultdict

import pytest

from analytics import rollups
from analytics.models import Rollup
from channels_app.models import Message
from channels_app.services import transitions
from consent.models import ConsentEvent, Suppression
from journeys.models import Enrollment
from tests.analytics.factories import message, populate
from tests.factories import ContactFactory

ZONES = ["UTC", "America/Sao_Paulo", "Asia/Kolkata"]


def midnight(tz_name, day):
    return dt.datetime.combine(day, dt.time(), tzinfo=zoneinfo.ZoneInfo(tz_name)).astimezone(dt.UTC)


def local_day(ts, tz_name):
    return ts.astimezone(zoneinfo.ZoneInfo(tz_name)).date()


def raw_by_day(rows, tz_name, key):
    out = defaultdict(Counter)
    for ts, *dims in rows:
        out[local_day(ts, tz_name)][key(*dims)] += 1
    return out


def totals_by(workspace, metric, day, by, where=None):
    start, end = rollups.day_bounds(workspace, day)
    rows = rollups.totals(workspace=workspace, metric=metric, start=start, end=end, by=by, where=where)
    return Counter({tuple(r[d] for d in by): r["count"] for r in rows if r["count"]})


def snapshot(workspace):
    fields = ("grain", "start", "metric", *rollups.DIMS, "count", "total")
    return sorted(
        (
            tuple(str(v) for v in row)
            for row in Rollup.objects.filter(workspace=workspace).values_list(*fields)
        ),
    )


@pytest.mark.parametrize("tz_name", ZONES)
def test_rollups_equal_raw_counts_per_local_day_and_hour(workspace, tz_name):
    # given a workspace in the zone, with rows on both sides of a local midnight and an hour edge
    workspace.timezone = tz_name
    workspace.save()
    around = midnight(tz_name, dt.date(2026, 3, 10))
    populate(workspace, around=around)
    now = around + dt.timedelta(hours=16)
    # when the rollups are refreshed
    rollups.refresh(now=now)
    # then every local day's counts equal the raw rows of that day
    msgs = Message.objects.filter(workspace=workspace)
    raw = raw_by_day(msgs.values_list("created_at", "kind", "status", "error_code"), tz_name, lambda *d: d)
    assert len(raw) == 2  # the data straddles a local midnight
    for day, expected in raw.items():
        assert totals_by(workspace, "messages", day, ("kind", "status", "code")) == expected
    consent = ConsentEvent.objects.filter(workspace=workspace)
    raw = raw_by_day(
        consent.values_list("recorded_at", "channel_kind", "purpose", "new_status"), tz_name, lambda *d: d
    )
    for day, expected in raw.items():
        assert totals_by(workspace, "consent", day, ("kind", "purpose", "status")) == expected
    raw = raw_by_day(
        Suppression.objects.filter(workspace=workspace).values_list("created_at", "reason"),
        tz_name,
        lambda *d: d,
    )
    for day, expected in raw.items():
        assert totals_by(workspace, "suppressions", day, ("code",)) == expected
    real = Enrollment.objects.filter(workspace=workspace, is_test=False)
    raw = raw_by_day(real.values_list("entered_at", "journey_id"), tz_name, lambda *d: d)
    for day, expected in raw.items():
        assert totals_by(workspace, "enrolments", day, ("journey_id",)) == expected
    raw = raw_by_day(real.filter(status="goal").values_list("ended_at", "journey_id"), tz_name, lambda *d: d)
    for day, expected in raw.items():
        assert totals_by(workspace, "conversions", day, ("journey_id",)) == expected
    # and every hour bucket too (local hours: Kolkata's start at :30 UTC)
    tz = zoneinfo.ZoneInfo(tz_name)
    by_hour = Counter()
    for ts, status in msgs.values_list("created_at", "status"):
        local = ts.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        by_hour[(local.astimezone(dt.UTC), status)] += 1
    got = rollups.series(
        workspace=workspace,
        metric="messages",
        start=around - dt.timedelta(days=1),
        end=now,
        by=("status",),
        grain="hour",
    )
    assert Counter({(r["start"], r["status"]): r["count"] for r in got}) == by_hour
    # the message on the very edge (local midnight) is in the new day, the one a microsecond before in the old
    first_hour = [r for r in got if r["start"] == around]
    assert (
        sum(r["count"] for r in first_hour)
        == msgs.filter(created_at__gte=around, created_at__lt=around + dt.timedelta(hours=1)).count()
    )


def test_a_second_run_and_a_rebuild_write_the_same_rows(workspace):
    workspace.timezone = "Asia/Kolkata"
    workspace.save()
    around = midnight("Asia/Kolkata", dt.date(2026, 3, 10))
    populate(workspace, around=around, n=60)
    now = around + dt.timedelta(hours=16)
    rollups.refresh(now=now)
    first = snapshot(workspace)
    rollups.refresh(now=now)
    assert snapshot(workspace) == first
    rollups.rebuild(workspace=workspace, start=around - dt.timedelta(days=2), end=now)
    assert snapshot(workspace) == first


def test_later_changes_are_counted_incrementally(workspace, channels):
    # given rollups of three days ago
    workspace.timezone = "America/Sao_Paulo"
    workspace.save()
    now = dt.datetime(2026, 3, 13, 12, 0, tzinfo=dt.UTC)
    person = ContactFactory(workspace=workspace, phone="+447911550999")
    old = message(workspace, person, channels["sms"], now - dt.timedelta(days=3), "sent")
    rollups.refresh(now=now)
    day = local_day(old.created_at, "America/Sao_Paulo")
    assert totals_by(workspace, "messages", day, ("status",)) == Counter({("sent",): 1})
    # when its receipt comes two days later, and a new message is queued now
    later = now + dt.timedelta(minutes=1)
    transitions.transition(ids=[old.pk], to="delivered", at=later, source="receipt")
    message(workspace, person, channels["sms"], later, "queued")
    rollups.refresh(now=later + dt.timedelta(seconds=5))
    # then the old day shows it delivered and today has the new one
    assert totals_by(workspace, "messages", day, ("status",)) == Counter({("delivered",): 1})
    today = local_day(later, "America/Sao_Paulo")
    assert totals_by(workspace, "messages", today, ("status",)) == Counter({("queued",): 1})
    # and a run much later (the cursor moved on) does not lose them
    rollups.refresh(now=later + dt.timedelta(hours=3))
    assert totals_by(workspace, "messages", day, ("status",)) == Counter({("delivered",): 1})
    assert totals_by(workspace, "messages", today, ("status",)) == Counter({("queued",): 1})


def test_latency_percentiles_from_the_histogram(workspace, channels):
    now = dt.datetime(2026, 3, 13, 12, 0, tzinfo=dt.UTC)
    person = ContactFactory(workspace=workspace, phone="+447911550998")
    created = now - dt.timedelta(hours=2)
    delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
    for i, d in enumerate(delays):
        message(workspace, person, channels["sms"], created, "delivered", sent_at=created + dt.timedelta(seconds=d),
                delivered_at=created + dt.timedelta(seconds=d + 10), seed=i)  # fmt: skip
    rollups.refresh(now=now)
    (row,) = rollups.latency(workspace=workspace, stage="queued_sent", start=created, end=now)
    assert row["count"] == 10 and row["provider"] == "sandbox" and row["kind"] == "sms"
    assert row["mean"] == pytest.approx(sum(delays) / 10)
    # the true p50 is 5 s, p95 100 s: within one histogram bucket (25 %)
    assert 5 / 1.25 <= row["p50"] <= 5 * 1.25
    assert 100 / 1.25 <= row["p95"] <= 100 * 1.25
    (row,) = rollups.latency(workspace=workspace, stage="sent_delivered", start=created, end=now)
    assert 10 / 1.25 <= row["p50"] <= 10 * 1.25


def test_a_new_zone_moves_the_days(workspace):
    # given rollups built in UTC
    around = midnight("UTC", dt.date(2026, 3, 10))
    populate(workspace, around=around, n=50)
    now = around + dt.timedelta(hours=16)
    rollups.refresh(now=now)
    # when the workspace moves to India (+5:30: another hour grid)
    workspace.timezone = "Asia/Kolkata"
    workspace.save()
    rollups.refresh(now=now + dt.timedelta(minutes=1))
    # then its days are India's days
    raw = raw_by_day(
        Message.objects.filter(workspace=workspace).values_list("created_at", "status"),
        "Asia/Kolkata",
        lambda *d: d,
    )
    for day, expected in raw.items():
        assert totals_by(workspace, "messages", day, ("status",)) == expected


def test_another_workspace_rows_are_not_read(workspace, other_workspace):
    around = midnight("UTC", dt.date(2026, 3, 10))
    populate(other_workspace, around=around, n=20)
    rollups.refresh(now=around + dt.timedelta(hours=16))
    start, end = rollups.day_bounds(workspace, dt.date(2026, 3, 10))
    assert rollups.totals(workspace=workspace, metric="messages", start=start, end=end) == []
    assert Rollup.objects.filter(workspace=other_workspace).exists()


def test_unknown_metric_or_dimension_is_refused(workspace):
    now = dt.datetime(2026, 3, 13, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        rollups.series(workspace=workspace, metric="nope", start=now, end=now)
    with pytest.raises(ValueError, match="'messages' is not kept by journey_id, purpose together"):
        rollups.totals(workspace=workspace, metric="messages", start=now, end=now, by=("purpose",),
                       where={"journey_id": 1})  # fmt: skip
    with pytest.raises(ValueError, match="no dimension 'journey_id'"):
        rollups.totals(workspace=workspace, metric="suppressions", start=now, end=now, by=("journey_id",))


def test_an_opt_out_counts_against_the_journey_that_wrote_last(workspace, channels):
    from tests.analytics.factories import journey

    now = dt.datetime(2026, 3, 13, 12, 0, tzinfo=dt.UTC)
    j, _ = journey(workspace)
    ada, bo, cy = (ContactFactory(workspace=workspace, phone=f"+44791155090{i}") for i in range(3))
    # Ada: a journey's SMS, then an agent's email (another channel): her SMS opt-out is the journey's
    message(workspace, ada, channels["sms"], now - dt.timedelta(hours=5), "delivered", journey_id=j.pk)
    message(workspace, ada, channels["email"], now - dt.timedelta(hours=4), "delivered")
    # Bo: the journey wrote 8 days ago, an agent yesterday: not the journey's
    message(workspace, bo, channels["sms"], now - dt.timedelta(days=8), "delivered", journey_id=j.pk)
    message(workspace, bo, channels["sms"], now - dt.timedelta(days=1), "delivered")
    # Cy: the journey wrote 8 days ago only: nobody's
    message(workspace, cy, channels["sms"], now - dt.timedelta(days=8), "delivered", journey_id=j.pk)
    for person in (ada, bo, cy):
        ConsentEvent.objects.create(
            workspace=workspace, contact=person, channel_kind="sms", purpose="marketing", new_status="opted_out",
            actor_type="system", actor_label="test", method="keyword", occurred_at=now - dt.timedelta(hours=1),
            recorded_at=now - dt.timedelta(hours=1), reason="STOP",
        )  # fmt: skip
    rollups.refresh(now=now)
    rows = rollups.totals(
        workspace=workspace, metric="consent", start=now - dt.timedelta(days=1), end=now, by=("journey_id",),
        where={"status": "opted_out"},
    )  # fmt: skip
    assert {r["journey_id"]: r["count"] for r in rows} == {j.pk: 1, None: 2}


def test_pages_hear_of_changed_numbers_only(workspace, other_workspace, channels, settings):
    from cpaas.models import RealtimeEvent

    settings.REALTIME_MODE = "relay"
    now = dt.datetime(2026, 3, 13, 12, 0, tzinfo=dt.UTC)
    person = ContactFactory(workspace=workspace, phone="+447911550997")
    group = f"ws.{workspace.pk}.analytics"
    rollups.refresh(now=now)
    RealtimeEvent.objects.all().delete()
    # nothing new: no notice
    rollups.refresh(now=now + dt.timedelta(minutes=1))
    assert not RealtimeEvent.objects.exists()
    # a new message: one notice, to this workspace's analytics group only
    message(workspace, person, channels["sms"], now + dt.timedelta(minutes=1), "queued")
    rollups.refresh(now=now + dt.timedelta(minutes=2))
    assert list(RealtimeEvent.objects.values_list("group", "payload__type")) == [(group, "analytics.changed")]


@pytest.mark.django_db(transaction=True)
def test_the_worker_task_and_a_rebuild_run_outside_any_transaction(workspace):
    """The worker calls them in autocommit: each takes its workspace's row lock in a transaction of
    its own (a misplaced decorator once left the lock outside one: PostgreSQL refused it)."""
    from django.utils import timezone

    from analytics.tasks import rollups_refresh_task

    rollups_refresh_task()
    now = timezone.now()
    rollups.rebuild(workspace=workspace, start=now - dt.timedelta(days=1), end=now)
