"""Rollups: what the pages and the API count, kept per hour and per day (models.Rollup), so no page
view counts raw messages, consent events or enrolments (docs/analytics.md, "Rollups").

Writing. `refresh(now=)` runs every minute in the worker (tasks.rollups_refresh_task). For each
workspace it recomputes, from the raw tables, every hour bucket that may have changed since its
last run: the buckets from its last run (less LATE, for writes that committed late) up to now;
for messages also the last hour (once an hour the last two days: the dispatcher's hot path moves
a message to sending and sent without a status event) and the buckets of every message whose
status changed since (its status events, read by id with RollupCursor). A bucket is recomputed whole (its rows deleted and written again in
one transaction), so running twice, or rebuilding a range with `rebuild()`, gives the same rows.
Then the days holding those hours are summed again from their hour rows.

Buckets. Hours are UTC hours, shifted by the minutes of the workspace's zone when it has some
(Asia/Kolkata +5:30: hours start at :30 UTC), so a local day is always a whole number of hour
buckets (23, 24 or 25 across DST changes). A day row starts at the workspace's local midnight and
is the sum of the hour rows in [midnight, next midnight). A workspace that changes its zone gets
its day rows summed again from the hours, and its hours rebuilt from raw when the minutes differ.

Reading (the API for other modules, all workspace-first and keyword-only):
- `series(workspace=, metric=, start=, end=, by=(), grain="day", where=None)`: rows per bucket,
  `{"start": datetime, <by dims>, "count": int, "total": float}`.
- `totals(workspace=, metric=, start=, end=, by=(), where=None)`: one row per combination of
  `by` over [start, end): whole local days from day rows, the edges from hour rows.
- `latency(workspace=, stage=, start=, end=, by=("kind", "provider"), where=None)`: count, mean,
  p50 and p95 seconds from the histogram (exact to within one bucket, 25 %).
- `day_bounds(workspace, day)`, `local_days(workspace, start, end)`: local days as instants.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncHour
from django.utils import timezone

from channels_app.models import Channel, Message, MessageStatusEvent
from consent.models import ConsentEvent, Suppression
from cpaas.bulk import insert_rows
from cpaas.models import Workspace
from cpaas.realtime import publish, workspace_group
from journeys.models import Enrollment

from .models import Rollup, RollupCursor, RollupState
from .periods import workspace_zone

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
# A write whose row is timestamped up to this long before it commits is still counted.
LATE = dt.timedelta(seconds=120)
# Messages move to "sending" and a bulk "sent" without a status event (the dispatcher's hot path),
# so the buckets of the last RECENT are recomputed every run, and those of the last SETTLE once an
# hour (a message deferred for quiet hours and sent later); later changes come with an event.
RECENT = dt.timedelta(hours=1)
SETTLE = dt.timedelta(hours=48)
# An opt-out counts against the journey whose message reached the person last within this.
ATTRIBUTION = dt.timedelta(days=7)
OPTED_OUT = "opted_out"
# A full rebuild recomputes raw rows this many days at a time (bounded memory).
CHUNK = dt.timedelta(days=7)

# Latency histogram: bucket i holds [EDGES[i-1], EDGES[i]) seconds; bucket 0 below 0.1 s, the
# last one 8.8 days and more. Each edge is 1.25 times the one before, so a percentile read from
# the buckets is within 25 % of the true one.
EDGES = tuple(round(0.1 * 1.25**i, 4) for i in range(72))
STAGES = {
    "queued_sent": ("created_at", "sent_at"),
    "sent_delivered": ("sent_at", "delivered_at"),
    "queued_delivered": ("created_at", "delivered_at"),
}

DIMS = (
    "kind",
    "provider",
    "channel_id",
    "status",
    "code",
    "rule",
    "purpose",
    "journey_id",
    "version_id",
    "bucket",
)


# a row's identity and values, to see whether a recomputed bucket changed
ROW = ("start", "metric", *DIMS, "count", "total")


@dataclass(frozen=True)
class Metric:
    source: str
    dims: tuple[str, ...]
    about: str


METRICS = {
    "messages": Metric(
        "messages",
        ("kind", "provider", "channel_id", "status", "code", "rule", "purpose", "journey_id"),
        "messages by the hour they were created, in their status now; code = provider error code, "
        "rule = the consent rule that blocked or deferred it; total = segments",
    ),
    "latency": Metric(
        "messages",
        ("kind", "provider", "channel_id", "code", "bucket"),
        "messages by the hour they were created: code = stage (queued_sent, sent_delivered, "
        "queued_delivered), bucket = histogram bucket (EDGES); total = seconds",
    ),
    "consent": Metric(
        "consent",
        ("kind", "purpose", "status", "code", "journey_id"),
        "consent events by the hour recorded: status = the new status (opted_out is an opt-out), "
        "code = method; an opt-out's journey_id is that of the last message sent to the person on "
        "that channel in the 7 days before (ATTRIBUTION)",
    ),
    "suppressions": Metric(
        "suppressions", ("kind", "code"), "suppressions added: kind blank = every channel; code = reason"
    ),
    "enrolments": Metric("journeys", ("journey_id", "version_id"), "enrolments by the hour they entered"),
    "conversions": Metric(
        "journeys", ("journey_id", "version_id"), "enrolments that ended at a goal, by the hour they did"
    ),
}
SOURCES = sorted({m.source for m in METRICS.values()})


# What is stored: "messages" by every dimension at once would be a row per combination of
# journey, channel, status, code, rule and purpose in every hour (thousands an hour on a busy
# workspace), so it is kept as three narrower cubes and a read takes the first that holds every
# dimension it groups or filters by. Other metrics are stored as they are.
CUBES = {
    "messages": [
        ("messages", ("kind", "provider", "channel_id", "status", "purpose")),
        ("messages:journey", ("journey_id", "kind", "status", "code")),
        ("messages:errors", ("kind", "provider", "channel_id", "status", "code", "rule")),
    ],
}


def cubes_of(metric: str) -> list[tuple[str, tuple[str, ...]]]:
    return CUBES.get(metric, [(metric, METRICS[metric].dims)])


def metrics_of(source: str) -> list[str]:
    """The stored metric names (cubes) a source writes."""
    return [name for metric, m in METRICS.items() if m.source == source for name, _ in cubes_of(metric)]


def _project(rows: list[dict]) -> list[dict]:
    """Each computed row summed into the cubes of its metric (unused dimensions left empty)."""
    out: dict[tuple, dict] = {}
    for r in rows:
        for name, dims in cubes_of(r["metric"]):
            key = (name, r["start"], *(r.get(d) for d in dims))
            row = out.get(key)
            if row is None:
                out[key] = {"metric": name, "start": r["start"], **{d: r.get(d) for d in dims},
                            "count": r["count"], "total": r.get("total", 0.0)}  # fmt: skip
            else:
                row["count"] += r["count"]
                row["total"] += r.get("total", 0.0)
    return list(out.values())


def _stored(metric: str, by: Iterable[str], where: dict | None) -> str:
    used = {d.split("__")[0] for d in [*by, *(where or {})]}
    for name, dims in cubes_of(metric):
        if used <= set(dims):
            return name
    kept = "; ".join(", ".join(dims) for _, dims in cubes_of(metric))
    raise ValueError(
        f"metric {metric!r} is not kept by {', '.join(sorted(used))} together; it is kept by: {kept}"
    )


# --- time --------------------------------------------------------------------------------------


def zone_of(workspace: Workspace) -> zoneinfo.ZoneInfo:
    return workspace_zone(workspace)


def grid_minutes(tz: zoneinfo.ZoneInfo, at: dt.datetime) -> int:
    """The minutes past the UTC hour at which the zone's hours start (30 for +5:30, 45 for +5:45)."""
    offset = at.astimezone(tz).utcoffset() or dt.timedelta()
    return int(offset.total_seconds() // 60) % 60


def floor_bucket(at: dt.datetime, grid: int) -> dt.datetime:
    shifted = at.astimezone(UTC) - dt.timedelta(minutes=grid)
    return shifted.replace(minute=0, second=0, microsecond=0) + dt.timedelta(minutes=grid)


def local_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    # A midnight that DST skips (fold 0 takes the offset before the change) lands on the day's
    # first real instant.
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(UTC)


def day_bounds(workspace: Workspace, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = zone_of(workspace)
    return local_midnight(day, tz), local_midnight(day + dt.timedelta(days=1), tz)


def local_days(workspace: Workspace, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """The local dates whose day lies wholly inside [start, end)."""
    tz = zone_of(workspace)
    day = start.astimezone(tz).date()
    out = []
    while True:
        m0, m1 = local_midnight(day, tz), local_midnight(day + dt.timedelta(days=1), tz)
        if m0 >= end:
            return out
        if m0 >= start and m1 <= end:
            out.append(day)
        day += dt.timedelta(days=1)


def _bucket_expr(field: str, grid: int):
    if not grid:
        return TruncHour(field, tzinfo=UTC)
    shifted = ExpressionWrapper(F(field) - dt.timedelta(minutes=grid), output_field=DateTimeField())
    return TruncHour(shifted, tzinfo=UTC)


def _bucket_start(value, grid: int) -> dt.datetime:
    if isinstance(value, str):  # SQLite answers a truncated expression as text
        value = dt.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC) + dt.timedelta(minutes=grid)


# --- computing hour rows from raw tables -------------------------------------------------------


def _latency_bucket(expr_name: str):
    whens = [
        When(**{f"{expr_name}__lt": dt.timedelta(seconds=edge)}, then=Value(i))
        for i, edge in enumerate(EDGES)
    ]
    return Case(*whens, default=Value(len(EDGES)))


def _messages(ws_id: int, grid: int, a: dt.datetime, b: dt.datetime) -> list[dict]:
    channels = {c.pk: c for c in Channel.objects.filter(workspace_id=ws_id)}
    base = Message.objects.filter(workspace_id=ws_id, created_at__gte=a, created_at__lt=b)
    rows = []
    grouped = (
        base.annotate(h=_bucket_expr("created_at", grid))
        .values("h", "kind", "channel_id", "status", "error_code", "consent_rule", "purpose", "journey_id")
        .annotate(n=Count("id"), seg=Sum("segments"))
        .order_by()
    )
    for r in grouped:
        channel = channels.get(r["channel_id"])
        rows.append(
            dict(
                metric="messages",
                start=_bucket_start(r["h"], grid),
                kind=r["kind"],
                provider=channel.provider if channel else "",
                channel_id=r["channel_id"],
                status=r["status"],
                code=r["error_code"] or "",
                rule=r["consent_rule"] or "",
                purpose=r["purpose"] or "",
                journey_id=r["journey_id"],
                count=r["n"],
                total=float(r["seg"] or 0),
            )
        )
    for stage, (begin, finish) in STAGES.items():
        grouped = (
            base.filter(**{f"{begin}__isnull": False, f"{finish}__isnull": False})
            .annotate(
                h=_bucket_expr("created_at", grid),
                lat=ExpressionWrapper(F(finish) - F(begin), output_field=DurationField()),
            )
            .annotate(lb=_latency_bucket("lat"))
            .values("h", "kind", "channel_id", "lb")
            .annotate(n=Count("id"), s=Sum("lat"))
            .order_by()
        )
        for r in grouped:
            channel = channels.get(r["channel_id"])
            seconds = r["s"].total_seconds() if isinstance(r["s"], dt.timedelta) else (r["s"] or 0) / 1e6
            rows.append(
                dict(
                    metric="latency",
                    start=_bucket_start(r["h"], grid),
                    kind=r["kind"],
                    provider=channel.provider if channel else "",
                    channel_id=r["channel_id"],
                    code=stage,
                    bucket=r["lb"],
                    count=r["n"],
                    total=seconds,
                )
            )
    return rows


def _consent(ws_id: int, grid: int, a: dt.datetime, b: dt.datetime) -> list[dict]:
    events = ConsentEvent.objects.filter(workspace_id=ws_id, recorded_at__gte=a, recorded_at__lt=b)
    # An opt-out is put down to the journey of the last message sent to the person on that
    # channel in the ATTRIBUTION window before it (none when that message was not a journey's):
    # one index lookup (message_ws_contact) per opt-out, and opt-outs are few.
    last_sent = Message.objects.filter(
        workspace_id=ws_id,
        contact_id=OuterRef("contact_id"),
        kind=OuterRef("channel_kind"),
        direction=Message.Direction.OUTBOUND,
        created_at__lte=OuterRef("recorded_at"),
        created_at__gt=OuterRef("recorded_at") - ATTRIBUTION,
    ).order_by("-created_at")
    rows = []
    for qs in (
        events.exclude(new_status=OPTED_OUT).annotate(j=Value(None, output_field=BigIntegerField())),
        events.filter(new_status=OPTED_OUT).annotate(j=Subquery(last_sent.values("journey_id")[:1])),
    ):
        grouped = (
            qs.annotate(h=_bucket_expr("recorded_at", grid))
            .values("h", "channel_kind", "purpose", "new_status", "method", "j")
            .annotate(n=Count("id"))
            .order_by()
        )
        rows += [
            dict(
                metric="consent",
                start=_bucket_start(r["h"], grid),
                kind=r["channel_kind"],
                purpose=r["purpose"],
                status=r["new_status"],
                code=r["method"],
                journey_id=r["j"],
                count=r["n"],
            )
            for r in grouped
        ]
    return rows


def _suppressions(ws_id: int, grid: int, a: dt.datetime, b: dt.datetime) -> list[dict]:
    grouped = (
        Suppression.objects.filter(workspace_id=ws_id, created_at__gte=a, created_at__lt=b)
        .annotate(h=_bucket_expr("created_at", grid))
        .values("h", "channel_kind", "reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [
        dict(
            metric="suppressions",
            start=_bucket_start(r["h"], grid),
            kind=r["channel_kind"],
            code=r["reason"],
            count=r["n"],
        )
        for r in grouped
    ]


def _journeys(ws_id: int, grid: int, a: dt.datetime, b: dt.datetime) -> list[dict]:
    rows = []
    real = Enrollment.objects.filter(workspace_id=ws_id, is_test=False)
    for metric, field, qs in (
        ("enrolments", "entered_at", real),
        ("conversions", "ended_at", real.filter(status=Enrollment.Status.GOAL)),
    ):
        grouped = (
            qs.filter(**{f"{field}__gte": a, f"{field}__lt": b})
            .annotate(h=_bucket_expr(field, grid))
            .values("h", "journey_id", "version_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        rows += [
            dict(
                metric=metric,
                start=_bucket_start(r["h"], grid),
                journey_id=r["journey_id"],
                version_id=r["version_id"],
                count=r["n"],
            )
            for r in grouped
        ]
    return rows


COMPUTE = {"messages": _messages, "consent": _consent, "suppressions": _suppressions, "journeys": _journeys}


def _earliest(ws_id: int) -> dt.datetime | None:
    firsts = [
        Message.objects.filter(workspace_id=ws_id)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first(),
        ConsentEvent.objects.filter(workspace_id=ws_id)
        .order_by("recorded_at")
        .values_list("recorded_at", flat=True)
        .first(),
        Suppression.objects.filter(workspace_id=ws_id)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first(),
        Enrollment.objects.filter(workspace_id=ws_id)
        .order_by("entered_at")
        .values_list("entered_at", flat=True)
        .first(),
    ]
    firsts = [f for f in firsts if f is not None]
    return min(firsts) if firsts else None


# --- writing -----------------------------------------------------------------------------------


def _merge(ranges: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[tuple[dt.datetime, dt.datetime]]:
    out: list[list[dt.datetime]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _rows_key(rows) -> list[tuple]:
    return sorted(tuple(repr(v) if isinstance(v, dt.datetime) else str(v) for v in row) for row in rows)


def _write_hours(ws_id: int, grid: int, source: str, a: dt.datetime, b: dt.datetime) -> set[dt.datetime]:
    """Recompute [a, b) (bucket edges) of one source: delete and write again. Returns the bucket
    starts when anything changed (their days are summed again), else nothing."""
    rows = []
    cursor = a
    while cursor < b:
        upto = min(b, cursor + CHUNK)
        rows += _project(COMPUTE[source](ws_id, grid, cursor, upto))
        cursor = upto
    old = Rollup.objects.filter(
        workspace_id=ws_id, grain=Rollup.Grain.HOUR, metric__in=metrics_of(source), start__gte=a, start__lt=b
    )
    new = [Rollup(workspace_id=ws_id, grain=Rollup.Grain.HOUR, **r) for r in rows]
    if _rows_key(old.values_list(*ROW)) == _rows_key(tuple(getattr(r, f) for f in ROW) for r in new):
        return set()
    old.delete()
    insert_rows(Rollup, new, batch_size=2000)
    starts = set()
    s = a
    while s < b:
        starts.add(s)
        s += HOUR
    return starts


def _write_days(ws_id: int, tz: zoneinfo.ZoneInfo, days: Iterable[dt.date], metrics: list[str]) -> None:
    """Sum each local day's hour rows into its day rows (delete and write again)."""
    for day in sorted(set(days)):
        m0, m1 = local_midnight(day, tz), local_midnight(day + dt.timedelta(days=1), tz)
        hours = (
            Rollup.objects.filter(
                workspace_id=ws_id, grain=Rollup.Grain.HOUR, metric__in=metrics, start__gte=m0, start__lt=m1
            )
            .values("metric", *DIMS)
            .annotate(c=Sum("count"), t=Sum("total"))
            .order_by()
        )
        rows = [
            Rollup(
                workspace_id=ws_id,
                grain=Rollup.Grain.DAY,
                start=m0,
                count=r.pop("c"),
                total=r.pop("t") or 0,
                **r,
            )
            for r in hours
        ]
        Rollup.objects.filter(
            workspace_id=ws_id, grain=Rollup.Grain.DAY, metric__in=metrics, start=m0
        ).delete()
        insert_rows(Rollup, rows, batch_size=2000)


def _lock_state(workspace: Workspace) -> RollupState:
    RollupState.objects.get_or_create(workspace=workspace, defaults={"timezone": workspace.timezone})
    return RollupState.objects.select_for_update().get(workspace=workspace)


def _kept_from(workspace: Workspace, source: str, now: dt.datetime, grid: int) -> dt.datetime | None:
    """The first bucket whose raw rows of `source` are all still kept. Older raw rows may have been
    deleted by the workspace's retention (cpaas/retention.py), so their hours are never recomputed
    from raw again: what was counted stays counted. (A day of margin: the purge runs hourly.)"""
    days = workspace.retention_messages_days if source == "messages" else None
    if not days:
        return None
    return floor_bucket(now - dt.timedelta(days=days - 1), grid) + HOUR


def _clamped(ranges, kept: dt.datetime | None):
    return [(max(a, kept), b) if kept else (a, b) for a, b in ranges if not kept or b > kept]


@transaction.atomic
def refresh_workspace(
    *, workspace: Workspace, now: dt.datetime, message_hours: Iterable[dt.datetime] = ()
) -> int:
    """Recompute what may have changed in one workspace since its last refresh (see the module's
    doc). `message_hours`: UTC hours of messages whose status changed. Returns how many hour buckets
    changed (then an "analytics.changed" notice goes to the workspace's pages, after commit)."""
    state = _lock_state(workspace)
    tz = zone_of(workspace)
    grid = grid_minutes(tz, now)
    end = floor_bucket(now, grid) + HOUR
    if state.refreshed_until is None or state.grid_minutes != grid:
        first = _earliest(workspace.pk)
        start = floor_bucket(first, grid) if first else end - HOUR
        if state.refreshed_until is not None:  # the hour grid moved: the old rows are of no use...
            for source in SOURCES:  # ...except those whose raw rows retention may have deleted
                kept = _kept_from(workspace, source, now, grid)
                old = Rollup.objects.filter(workspace=workspace, metric__in=metrics_of(source))
                (old.filter(start__gte=kept) if kept else old).delete()
    else:
        start = floor_bucket(min(state.refreshed_until - LATE, now), grid)
    ranges = {source: [(start, end)] for source in SOURCES}
    ranges["messages"].append((floor_bucket(now - RECENT, grid), end))
    if state.refreshed_until is not None and floor_bucket(state.refreshed_until, grid) != floor_bucket(
        now, grid
    ):
        ranges["messages"].append((floor_bucket(now - SETTLE, grid), end))
    for hour in message_hours:
        # a UTC hour overlaps two buckets of a shifted grid
        for b in {floor_bucket(hour, grid), floor_bucket(hour + HOUR - dt.timedelta(microseconds=1), grid)}:
            ranges["messages"].append((b, b + HOUR))
    touched = 0
    for source in SOURCES:
        starts: set[dt.datetime] = set()
        for a, b in _clamped(_merge(ranges[source]), _kept_from(workspace, source, now, grid)):
            starts |= _write_hours(workspace.pk, grid, source, a, b)
        touched += len(starts)
        days = {s.astimezone(tz).date() for s in starts}
        _write_days(workspace.pk, tz, days, metrics_of(source))
    if touched:
        # pages showing these numbers fetch them again (static/js/charts.js, data-refresh-on)
        publish(workspace_group(workspace.pk, "analytics"), {"type": "analytics.changed", "id": workspace.pk})
    if state.timezone != workspace.timezone and state.refreshed_until is not None:
        # same grid, other zone: the local days moved, sum every day again from the hours
        _rebuild_days(workspace.pk, tz)
    state.timezone = workspace.timezone
    state.grid_minutes = grid
    state.refreshed_at = timezone.now()
    state.refreshed_until = now
    state.save()
    return touched


def _rebuild_days(ws_id: int, tz: zoneinfo.ZoneInfo) -> None:
    Rollup.objects.filter(workspace_id=ws_id, grain=Rollup.Grain.DAY).delete()
    bounds = Rollup.objects.filter(workspace_id=ws_id, grain=Rollup.Grain.HOUR).order_by("start")
    first, last = (
        bounds.values_list("start", flat=True).first(),
        bounds.reverse().values_list("start", flat=True).first(),
    )
    if first is None:
        return
    day, stop = first.astimezone(tz).date(), last.astimezone(tz).date()
    days = []
    while day <= stop:
        days.append(day)
        day += dt.timedelta(days=1)
    _write_days(ws_id, tz, days, [name for source in SOURCES for name in metrics_of(source)])


@transaction.atomic
def rebuild(*, workspace: Workspace, start: dt.datetime, end: dt.datetime) -> None:
    """Recompute every source over [start, end) from the raw tables (a repair, or rows written
    with old timestamps such as an import)."""
    _lock_state(workspace)
    tz = zone_of(workspace)
    grid = grid_minutes(tz, end)
    a, b = floor_bucket(start, grid), floor_bucket(end - dt.timedelta(microseconds=1), grid) + HOUR
    for source in SOURCES:
        starts = set()
        for x, y in _clamped([(a, b)], _kept_from(workspace, source, timezone.now(), grid)):
            starts = _write_hours(workspace.pk, grid, source, x, y)
        _write_days(workspace.pk, tz, {s.astimezone(tz).date() for s in starts}, metrics_of(source))


def _status_event_hours(now: dt.datetime) -> tuple[dict[int, set[dt.datetime]], list]:
    """UTC hours (of creation) of the messages whose status changed since the cursor's mark of
    LATE ago, per workspace, and the cursor's marks to save once they are counted."""
    cursor, _ = RollupCursor.objects.get_or_create(source="message_status_events")
    marks = [(dt.datetime.fromisoformat(t), i) for t, i in cursor.marks]
    old = [i for t, i in marks if t <= now - LATE]
    since = old[-1] if old else (marks[0][1] if marks else 0)
    top = MessageStatusEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    hours: dict[int, set[dt.datetime]] = defaultdict(set)
    if top > since:
        rows = (
            MessageStatusEvent.objects.filter(id__gt=since, id__lte=top)
            .annotate(h=TruncHour("message__created_at", tzinfo=UTC))
            .values_list("message__workspace_id", "h")
            .distinct()
        )
        for ws_id, h in rows:
            hours[ws_id].add(_bucket_start(h, 0))
    # keep the marks of the last LATE and one older than it (where the next run starts)
    kept = [(t, i) for t, i in marks if t > now - LATE]
    if old:
        kept.insert(0, (next(t for t, i in marks if i == old[-1]), old[-1]))
    kept.append((now, top))
    return hours, [[t.isoformat(), i] for t, i in kept]


def refresh(*, now: dt.datetime | None = None) -> dict[int, int]:
    """The worker's task: refresh every workspace. Returns {workspace id: hours recomputed}."""
    now = now or timezone.now()
    message_hours, marks = _status_event_hours(now)
    done = {}
    for workspace in Workspace.objects.order_by("pk"):
        done[workspace.pk] = refresh_workspace(
            workspace=workspace, now=now, message_hours=message_hours.get(workspace.pk, ())
        )
    RollupCursor.objects.filter(source="message_status_events").update(marks=marks)
    return done


# --- reading -----------------------------------------------------------------------------------


def _check(metric: str, by: Iterable[str], where: dict | None) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    allowed = set(METRICS[metric].dims)
    for dim in [*by, *((where or {}).keys())]:
        if dim.split("__")[0] not in allowed:
            raise ValueError(
                f"metric {metric!r} has no dimension {dim!r}; it has {', '.join(sorted(allowed))}"
            )


def series(
    *,
    workspace: Workspace,
    metric: str,
    start: dt.datetime,
    end: dt.datetime,
    by: Iterable[str] = (),
    grain: str = "day",
    where: dict | None = None,
) -> list[dict]:
    """Rows per bucket (grain "hour" or "day") starting in [start, end), ordered by start."""
    by = tuple(by)
    _check(metric, by, where)
    g = Rollup.Grain.HOUR if grain == "hour" else Rollup.Grain.DAY
    rows = (
        Rollup.objects.filter(
            workspace=workspace,
            metric=_stored(metric, by, where),
            grain=g,
            start__gte=start,
            start__lt=end,
            **(where or {}),
        )
        .values("start", *by)
        .annotate(count=Sum("count"), total=Sum("total"))
        .order_by("start", *by)
    )
    return [{**r, "total": r["total"] or 0.0} for r in rows]


def totals(
    *,
    workspace: Workspace,
    metric: str,
    start: dt.datetime,
    end: dt.datetime,
    by: Iterable[str] = (),
    where: dict | None = None,
) -> list[dict]:
    """One row per combination of `by` over [start, end): whole local days from day rows, what is
    left at either edge from hour rows (so a range need not start at midnight)."""
    by = tuple(by)
    _check(metric, by, where)
    days = local_days(workspace, start, end)
    base = Rollup.objects.filter(workspace=workspace, metric=_stored(metric, by, where), **(where or {}))
    parts = []
    if days:
        d0, _ = day_bounds(workspace, days[0])
        _, d1 = day_bounds(workspace, days[-1])
        parts.append(base.filter(grain=Rollup.Grain.DAY, start__gte=d0, start__lt=d1))
        if start < d0:
            parts.append(base.filter(grain=Rollup.Grain.HOUR, start__gte=start, start__lt=d0))
        if d1 < end:
            parts.append(base.filter(grain=Rollup.Grain.HOUR, start__gte=d1, start__lt=end))
    else:
        parts.append(base.filter(grain=Rollup.Grain.HOUR, start__gte=start, start__lt=end))
    merged: dict[tuple, dict] = {}
    for qs in parts:
        for r in qs.values(*by).annotate(c=Sum("count"), t=Sum("total")).order_by():
            key = tuple(r[d] for d in by)
            row = merged.setdefault(key, {**{d: r[d] for d in by}, "count": 0, "total": 0.0})
            row["count"] += r["c"] or 0
            row["total"] += r["t"] or 0.0
    return sorted(merged.values(), key=lambda r: tuple(str(r[d]) for d in by))


def percentile(counts: dict[int, int], p: float) -> float | None:
    """The p-th percentile (0-100) in seconds of a histogram {bucket: count}, interpolated
    linearly inside its bucket."""
    n = sum(counts.values())
    if not n:
        return None
    rank = p / 100 * n
    seen = 0
    for bucket in sorted(counts):
        c = counts[bucket]
        if c and seen + c >= rank:
            lo = EDGES[bucket - 1] if bucket > 0 else 0.0
            hi = EDGES[bucket] if bucket < len(EDGES) else EDGES[-1] * 1.25
            return lo + (hi - lo) * max(0.0, rank - seen) / c
        seen += c
    return EDGES[-1]


def latency(
    *,
    workspace: Workspace,
    stage: str,
    start: dt.datetime,
    end: dt.datetime,
    by: Iterable[str] = ("kind", "provider"),
    where: dict | None = None,
) -> list[dict]:
    """Per combination of `by`: count, mean, p50 and p95 in seconds of one stage (STAGES)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    by = tuple(by)
    rows = totals(
        workspace=workspace,
        metric="latency",
        start=start,
        end=end,
        by=(*by, "bucket"),
        where={**(where or {}), "code": stage},
    )
    groups: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(r[d] for d in by)
        g = groups.setdefault(
            key, {**{d: r[d] for d in by}, "hist": defaultdict(int), "count": 0, "seconds": 0.0}
        )
        g["hist"][r["bucket"]] += r["count"]
        g["count"] += r["count"]
        g["seconds"] += r["total"]
    out = []
    for g in groups.values():
        hist = g.pop("hist")
        seconds = g.pop("seconds")
        g["mean"] = seconds / g["count"] if g["count"] else None
        g["p50"] = percentile(hist, 50)
        g["p95"] = percentile(hist, 95)
        out.append(g)
    return sorted(out, key=lambda r: tuple(str(r[d]) for d in by))
