"""A journey's analytics (issue 15 item 3): the funnel per node (entered, exits and their share,
waiting, failed, median time spent), drop-off and failure reasons by node, goal conversion over
time per version, messages by channel, status and provider error code, and cost. Counts come from
the engine's counters (journeys' JourneyCounter) and the rollups (analytics.rollups); only the
median time and the reasons read raw rows, bounded (see each function)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count

from journeys.models import Enrollment, Journey, JourneyVersion, Step
from journeys.selectors import journey_totals, node_counters

from . import rollups
from .models import Price
from .periods import Period

# The median time per node is taken over the steps of at most this many enrolments (the latest
# that entered in the period): a sample on a big journey, every enrolment on a small one.
TIME_SAMPLE = 5000
ENDED = ("failed", "expired", "cancelled")
BILLED = ("sent", "delivered", "read", "unknown")
TERMINAL = ("exit", "goal")  # a contact who stops here has finished, not dropped off


def exit_share(count: int, entered: int) -> float | None:
    """The share of the contacts who entered a node that left by one exit (the canvas shows the
    same number, static/js/editor/canvas.js `exitShare`)."""
    return round(count / entered, 4) if entered else None


def graph_of(journey: Journey) -> dict:
    """The graph the funnel is drawn on: the live version's, else the newest published, else the draft."""
    if journey.live_version_id:
        return journey.live_version.graph or {}
    version = (
        JourneyVersion.objects.filter(journey=journey, is_test=False)
        .order_by("published_at", "-number")
        .values_list("graph", flat=True)
        .first()
    )
    return version or {}


def node_order(graph: dict) -> list[str]:
    """Nodes from the start, breadth first along the exits in their order; unreachable ones last."""
    nodes = graph.get("nodes") or {}
    order, seen = [], set()
    queue = [graph.get("start")] if graph.get("start") in nodes else []
    while queue:
        nid = queue.pop(0)
        if nid in seen:
            continue
        seen.add(nid)
        order.append(nid)
        queue += [t for t in (nodes[nid].get("exits") or {}).values() if t in nodes and t not in seen]
    return order + sorted(n for n in nodes if n not in seen)


def median_times(*, journey: Journey, period: Period) -> dict[str, float]:
    """Median seconds spent at each node: from entering it (the previous step, or the enrolment's
    entry for the first node) to leaving it, over the latest TIME_SAMPLE enrolments that entered
    in the period."""
    ids = list(
        Enrollment.objects.filter(
            journey=journey, is_test=False, entered_at__gte=period.start, entered_at__lt=period.end
        )
        .order_by("-entered_at", "-id")
        .values_list("pk", "entered_at")[:TIME_SAMPLE]
    )
    entered = dict(ids)
    spent: dict[str, list[float]] = defaultdict(list)
    previous: dict[int, dt.datetime] = {}
    for enrollment_id, node, at in (
        Step.objects.filter(enrollment_id__in=list(entered))
        .order_by("enrollment_id", "at", "id")
        .values_list("enrollment_id", "node", "at")
    ):
        since = previous.get(enrollment_id, entered[enrollment_id])
        spent[node].append(max(0.0, (at - since).total_seconds()))
        previous[enrollment_id] = at
    return {node: round(statistics.median(times), 1) for node, times in spent.items()}


def reasons(*, workspace, journey: Journey) -> list[dict]:
    """Where contacts dropped out other than by an exit, and why: enrolments that ended failed,
    expired or cancelled, by the node they were at and the reason recorded (the journey's
    `(journey, status)` index)."""
    rows = (
        Enrollment.objects.filter(workspace=workspace, journey=journey, status__in=ENDED, is_test=False)
        .values("node", "status", "end_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "node")
    )
    return [
        {"node": r["node"], "status": r["status"], "reason": r["end_reason"], "contacts": r["n"]}
        for r in rows
    ]


def funnel(*, workspace, journey: Journey, period: Period) -> dict:
    """Per node in graph order: entered, each exit with its count, share of entered and target,
    waiting now, failed there, completed there (an exit or goal node), ended there otherwise
    (expired, cancelled: a drop-off), median time spent."""
    graph = graph_of(journey)
    nodes = graph.get("nodes") or {}
    counts = node_counters(workspace=workspace, journey=journey)
    times = median_times(journey=journey, period=period)
    rows = []
    for nid in node_order(graph):
        node = nodes[nid]
        c = counts.get(nid, {"entered": 0, "waiting": 0, "failed": 0, "exits": {}})
        exit_names = list((node.get("exits") or {}).keys())
        exit_names += [e for e in c["exits"] if e not in exit_names]
        exits = [
            {"exit": e, "count": c["exits"].get(e, 0), "share": exit_share(c["exits"].get(e, 0), c["entered"]),
             "to": (node.get("exits") or {}).get(e)}
            for e in exit_names
        ]  # fmt: skip
        stopped = max(0, c["entered"] - sum(x["count"] for x in exits) - c["waiting"] - c["failed"])
        terminal = node.get("type") in TERMINAL
        rows.append({
            "node": nid, "type": node.get("type", ""), "label": node.get("label") or "",
            "entered": c["entered"], "waiting": c["waiting"], "failed": c["failed"], "exits": exits,
            "completed": stopped if terminal else 0, "ended_here": 0 if terminal else stopped,
            "median_s": times.get(nid),
        })  # fmt: skip
    return {"nodes": rows, "totals": journey_totals(workspace=workspace, journey=journey)}


def conversions_by_version(*, workspace, journey: Journey, period: Period) -> dict:
    """Per day of the period and published version: enrolments, goal conversions, and the
    cumulative conversion rate (conversions so far / enrolments so far), from the rollups."""
    where = {"journey_id": journey.pk}
    numbers = dict(
        JourneyVersion.objects.filter(journey=journey, number__isnull=False).values_list("pk", "number")
    )
    per: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: {"in": 0, "goal": 0}))
    for metric, key in (("enrolments", "in"), ("conversions", "goal")):
        for r in rollups.series(workspace=workspace, metric=metric, start=period.start, end=period.end,
                                by=("version_id",), where=where):  # fmt: skip
            if r["version_id"] in numbers:
                day = period.day_of(r["start"]).isoformat()
                per[r["version_id"]][day][key] += r["count"]
    days = [d.isoformat() for d in period.days()]
    versions = []
    for version_id in sorted(per, key=lambda v: numbers[v]):
        cum_in = cum_goal = 0
        series = []
        for day in days:
            d = per[version_id].get(day, {"in": 0, "goal": 0})
            cum_in += d["in"]
            cum_goal += d["goal"]
            series.append({"date": day, "enrolments": d["in"], "conversions": d["goal"],
                           "rate": round(cum_goal / cum_in, 4) if cum_in else None})  # fmt: skip
        versions.append({"version": numbers[version_id], "enrolments": cum_in, "conversions": cum_goal,
                         "rate": round(cum_goal / cum_in, 4) if cum_in else None, "series": series})  # fmt: skip
    return {"dates": days, "versions": versions}


def messages(*, workspace, journey: Journey, period: Period) -> list[dict]:
    """The journey's messages created in the period by channel, status and provider error code
    (rollups); `segments` is what the provider bills."""
    rows = rollups.totals(workspace=workspace, metric="messages", start=period.start, end=period.end,
                          by=("kind", "status", "code"), where={"journey_id": journey.pk})  # fmt: skip
    return [{"channel": r["kind"], "status": r["status"], "code": r["code"], "messages": r["count"],
             "segments": int(r["total"])} for r in sorted(rows, key=lambda r: (r["kind"], r["status"], r["code"]))]  # fmt: skip


def price_for(prices: dict[tuple[str, str], Price], kind: str, country: str) -> Price | None:
    return prices.get((kind, country)) or prices.get((kind, ""))


def cost(*, workspace, journey: Journey, period: Period, message_rows: list[dict], conversions: int) -> dict:
    """Segments billed (messages that left: sent, delivered, read or unknown; a message without
    segments counts one) × the workspace's price for the channel and its default country (else
    the channel's any-country price), per channel; and the cost per goal conversion in the
    period. Channels without a price are listed as unpriced."""
    prices = {(p.kind, p.country): p for p in Price.objects.filter(workspace=workspace)}
    by_kind: dict[str, dict] = {}
    for r in message_rows:
        if r["status"] not in BILLED:
            continue
        row = by_kind.setdefault(r["channel"], {"channel": r["channel"], "messages": 0, "segments": 0})
        row["messages"] += r["messages"]
        row["segments"] += max(r["segments"], r["messages"]) if r["segments"] else r["messages"]
    total, currencies, unpriced = Decimal(0), set(), []
    for kind, row in sorted(by_kind.items()):
        price = price_for(prices, kind, workspace.default_country or "")
        if price is None:
            row.update(price=None, currency="", cost=None)
            unpriced.append(kind)
            continue
        row.update(price=str(price.price), currency=price.currency, cost=str(price.price * row["segments"]))
        total += price.price * row["segments"]
        currencies.add(price.currency)
    currencies_priced = bool(currencies)
    currency = currencies.pop() if len(currencies) == 1 else ("mixed" if currencies else "")
    return {
        "channels": list(by_kind.values()),
        "total": str(total.quantize(Decimal("0.00001"))),
        "currency": currency,
        "unpriced": unpriced,
        "conversions": conversions,
        "per_conversion": str((total / conversions).quantize(Decimal("0.00001")))
        if conversions and currencies_priced
        else None,
        "country": workspace.default_country or "",
    }


def journey_analytics(*, workspace, journey: Journey, period: Period) -> dict:
    """Everything the journey analytics page and `/api/v1/journeys/<id>/funnel/` show."""
    by_version = conversions_by_version(workspace=workspace, journey=journey, period=period)
    message_rows = messages(workspace=workspace, journey=journey, period=period)
    conversions = sum(v["conversions"] for v in by_version["versions"])
    return {
        "journey": {"id": journey.pk, "name": journey.name, "status": journey.status},
        "period": period.as_json(),
        **funnel(workspace=workspace, journey=journey, period=period),
        "reasons": reasons(workspace=workspace, journey=journey),
        "conversions": by_version,
        "messages": message_rows,
        "cost": cost(
            workspace=workspace,
            journey=journey,
            period=period,
            message_rows=message_rows,
            conversions=conversions,
        ),  # fmt: skip
    }
