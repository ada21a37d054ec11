"""Reads for the supervisor page (issue 13 item 10): open conversations by queue, how long
customers are waiting now, first-response and resolution times, what each agent handled and the
SLA breaches. Every figure is an aggregate computed by the database (conditional counts grouped
by queue or agent), so the page costs the same few queries for ten conversations or a million."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q

from cpaas.charts import Chart as CsvChart
from cpaas.models import Workspace

from .models import Conversation, Queue, Reply

PERIODS = (1, 7, 30)  # days the times, agents and breaches look back over
# (label, upper bound) of the time buckets; the last one is open-ended
BUCKETS = (
    ("≤ 5 min", dt.timedelta(minutes=5)),
    ("5–15 min", dt.timedelta(minutes=15)),
    ("15–60 min", dt.timedelta(hours=1)),
    ("1–4 h", dt.timedelta(hours=4)),
    ("4–24 h", dt.timedelta(hours=24)),
    ("> 24 h", None),
)
RESOLVED = Conversation.Status.RESOLVED


def _buckets(start_field: str, end, prefix: str) -> dict:
    """Conditional counts of (end - start) per bucket: `end` is a field name (an F) or an
    instant (waiting now). Durations as `start + bound` comparisons, which both databases index
    and compute the same way."""
    end_expr = F(end) if isinstance(end, str) else end
    out, lower = {}, None
    for i, (_, upper) in enumerate(BUCKETS):
        cond = Q()
        if lower is not None:
            cond &= Q(**{f"{start_field}__lt": _shift(end_expr, -lower)})
        if upper is not None:
            cond &= Q(**{f"{start_field}__gte": _shift(end_expr, -upper)})
        out[f"{prefix}{i}"] = Count("pk", filter=cond)
        lower = upper
    return out


def _shift(expr, delta: dt.timedelta):
    return expr + delta


def human_duration(delta: dt.timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


@dataclass
class Chart:
    """One chart and its table alternative: `rows` are (label, [values]) under `columns`."""

    id: str
    title: str
    columns: list[str]
    rows: list[tuple[str, list]]
    stacked: bool = False
    horizontal: bool = False
    csv_url: str = ""  # set by the view (cpaas.charts.with_csv_urls)

    def as_table(self) -> CsvChart:
        """The same numbers as the shared chart's table, for its CSV download."""
        return CsvChart(
            self.id, self.title, ["", *self.columns], [[label, *values] for label, values in self.rows]
        )

    @property
    def config(self) -> dict:
        datasets = [
            {"label": column, "data": [row[1][i] for row in self.rows]}
            for i, column in enumerate(self.columns)
        ]
        scale = {"stacked": self.stacked, "beginAtZero": True, "ticks": {"precision": 0}}
        options = {
            "scales": {"x": dict(scale), "y": dict(scale)},
            "plugins": {"legend": {"position": "bottom"}},
        }
        if self.horizontal:
            options["indexAxis"] = "y"
        return {
            "type": "bar",
            "data": {"labels": [row[0] for row in self.rows], "datasets": datasets},
            "options": options,
        }

    @property
    def empty(self) -> bool:
        return not any(any(v for v in row[1]) for row in self.rows)


def supervisor_figures(*, workspace: Workspace, now: dt.datetime, days: int = 7) -> dict:
    """The page's charts (each with its table) and headline numbers: ten queries, whatever the
    number of conversations, queues or agents."""
    since = now - dt.timedelta(days=days)
    queues = {q.pk: q for q in Queue.objects.filter(workspace=workspace)}
    conversations = Conversation.objects.filter(workspace=workspace)

    # 1. open now, by queue (unassigned / assigned), with SLA breaches of the open ones
    per_queue = {
        row["queue_id"]: row
        for row in conversations.exclude(status=RESOLVED)
        .values("queue_id")
        .annotate(
            open=Count("pk"),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            waiting=Count("pk", filter=Q(waiting_since__isnull=False)),
            oldest=Min("waiting_since"),
            frt_breached_open=Count(
                "pk", filter=Q(first_response_at__isnull=True, first_response_due_at__lt=now)
            ),
            res_breached_open=Count("pk", filter=Q(resolution_due_at__lt=now)),
        )
        .order_by()
    }
    # 2. waiting now, by how long
    waiting = (
        conversations.exclude(status=RESOLVED)
        .filter(waiting_since__isnull=False)
        .aggregate(**_buckets("waiting_since", now, "w"))
    )
    # 3. first response and 4. resolution times over the period
    frt = conversations.filter(first_response_at__gte=since, first_response_at__lte=now).aggregate(
        **_buckets("opened_at", "first_response_at", "f")
    )
    res = conversations.filter(resolved_at__gte=since, resolved_at__lte=now).aggregate(
        **_buckets("opened_at", "resolved_at", "r")
    )
    # 5. SLA breaches over the period, by queue (answered late, resolved late)
    breaches = {
        row["queue_id"]: row
        for row in conversations.filter(Q(first_response_at__gte=since) | Q(resolved_at__gte=since))
        .values("queue_id")
        .annotate(
            frt_late=Count(
                "pk", filter=Q(first_response_at__gte=since, first_response_at__gt=F("first_response_due_at"))
            ),
            res_late=Count("pk", filter=Q(resolved_at__gte=since, resolved_at__gt=F("resolution_due_at"))),
        )
        .order_by()
    }
    # 6. handled per agent: resolved in the period, replies sent in the period, open now
    resolved_by = dict(
        conversations.filter(resolved_at__gte=since, resolved_at__lte=now, assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("assignee_id", "n")
    )
    replies_by = dict(
        Reply.objects.filter(
            workspace=workspace, created_at__gte=since, created_at__lte=now, author__isnull=False
        )
        .values("author_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("author_id", "n")
    )
    open_by = {
        row["assignee_id"]: row["n"]
        for row in conversations.exclude(status=RESOLVED)
        .filter(assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    agent_ids = set(resolved_by) | set(replies_by) | set(open_by)
    users = get_user_model().objects.in_bulk(agent_ids) if agent_ids else {}

    def qname(pk):
        q = queues.get(pk)
        return q.display_name if q else f"queue {pk}"

    queue_ids = sorted(set(per_queue) | set(breaches) | set(queues), key=lambda pk: qname(pk).lower())
    open_rows = [
        (qname(pk), [per_queue.get(pk, {}).get("unassigned", 0), per_queue.get(pk, {}).get("open", 0) - per_queue.get(pk, {}).get("unassigned", 0)])
        for pk in queue_ids
    ]  # fmt: skip
    breach_rows = [
        (
            qname(pk),
            [
                breaches.get(pk, {}).get("frt_late", 0),
                breaches.get(pk, {}).get("res_late", 0),
                per_queue.get(pk, {}).get("frt_breached_open", 0),
                per_queue.get(pk, {}).get("res_breached_open", 0),
            ],
        )
        for pk in queue_ids
    ]

    def uname(pk):
        u = users.get(pk)
        return (u.get_full_name() or u.get_username()) if u else f"user {pk}"

    agent_rows = sorted(
        (
            (uname(pk), [resolved_by.get(pk, 0), replies_by.get(pk, 0), open_by.get(pk, 0)])
            for pk in agent_ids
        ),
        key=lambda row: (-row[1][0], row[0].lower()),
    )
    labels = [label for label, _ in BUCKETS]
    charts = [
        Chart(
            "chart-open", "Open conversations by queue", ["Unassigned", "Assigned"], open_rows, stacked=True
        ),
        Chart(
            "chart-waiting",
            "Customers waiting now, by how long",
            ["Conversations"],
            [(labels[i], [waiting[f"w{i}"]]) for i in range(len(BUCKETS))],
        ),  # fmt: skip
        Chart(
            "chart-frt",
            f"First response time (answered in the last {days} d)",
            ["Conversations"],
            [(labels[i], [frt[f"f{i}"]]) for i in range(len(BUCKETS))],
        ),  # fmt: skip
        Chart(
            "chart-resolution",
            f"Resolution time (resolved in the last {days} d)",
            ["Conversations"],
            [(labels[i], [res[f"r{i}"]]) for i in range(len(BUCKETS))],
        ),  # fmt: skip
        Chart(
            "chart-agents",
            f"Handled per agent (last {days} d)",
            ["Resolved", "Replies", "Open now"],
            agent_rows,
            horizontal=True,
        ),  # fmt: skip
        Chart(
            "chart-sla",
            f"SLA breaches by queue (last {days} d, and open now)",
            ["Answered late", "Resolved late", "Open: first response overdue", "Open: resolution overdue"],
            breach_rows,
        ),
    ]
    oldest = min((row["oldest"] for row in per_queue.values() if row["oldest"]), default=None)
    return {
        "charts": charts,
        "days": days,
        "open_total": sum(row["open"] for row in per_queue.values()),
        "unassigned_total": sum(row["unassigned"] for row in per_queue.values()),
        "waiting_total": sum(row["waiting"] for row in per_queue.values()),
        "longest_wait": human_duration(now - oldest) if oldest else "",
        "breached_open_total": sum(
            row["frt_breached_open"] + row["res_breached_open"] for row in per_queue.values()
        ),
    }
