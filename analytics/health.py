"""Messaging health (the page and `/api/v1/analytics/health/`), from the rollups only: delivery rate
and latency (queued → sent → delivered, p50 / p95) by channel and provider, errors by code with
the provider's explanation, and opt-outs per 1,000 messages by journey (the guardrail the
experiments use too)."""

from __future__ import annotations

from collections import defaultdict

from cpaas.models import Workspace
from journeys.models import Journey

from . import rollups
from .dashboard import ATTEMPTED, DELIVERED, _rate, change, previous
from .error_codes import explain
from .periods import Period


def health(*, workspace: Workspace, period: Period) -> dict:
    prev = previous(workspace, period)

    def by_channel(p: Period) -> dict[tuple, dict[str, int]]:
        rows = rollups.totals(
            workspace=workspace,
            metric="messages",
            start=p.start,
            end=p.end,
            by=("kind", "provider", "status"),
        )
        out: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in rows:
            out[(r["kind"], r["provider"])][r["status"]] += r["count"]
        return out

    now_c, prev_c = by_channel(period), by_channel(prev)
    latency = {}
    for stage in rollups.STAGES:
        for r in rollups.latency(workspace=workspace, stage=stage, start=period.start, end=period.end):
            latency.setdefault((r["kind"], r["provider"]), {})[stage] = {
                "count": r["count"], "mean_s": _round(r["mean"]), "p50_s": _round(r["p50"]), "p95_s": _round(r["p95"]),
            }  # fmt: skip
    delivery = []
    for key in sorted(set(now_c) | set(latency)):
        statuses = now_c.get(key, {})
        attempted = sum(statuses.get(s, 0) for s in ATTEMPTED)
        if not attempted and key not in latency:
            continue  # inbound-only or blocked-only: nothing was sent
        delivered = sum(statuses.get(s, 0) for s in DELIVERED)
        before = prev_c.get(key, {})
        rate_prev = _rate(sum(before.get(s, 0) for s in DELIVERED), sum(before.get(s, 0) for s in ATTEMPTED))
        rate = _rate(delivered, attempted)
        empty = {"count": 0, "mean_s": None, "p50_s": None, "p95_s": None}
        delivery.append({
            "kind": key[0], "provider": key[1], "attempted": attempted, "delivered": delivered,
            "failed": statuses.get("failed", 0), "unknown": statuses.get("unknown", 0),
            "delivery_rate": rate, "delivery_rate_previous": rate_prev,
            "change": None if rate is None or rate_prev is None else round(rate - rate_prev, 2),
            "latency": {stage: latency.get(key, {}).get(stage, empty) for stage in rollups.STAGES},
        })  # fmt: skip
    errors_now = rollups.totals(
        workspace=workspace, metric="messages", start=period.start, end=period.end, by=("provider", "kind", "code"),
        where={"status__in": ["failed", "unknown"]},
    )  # fmt: skip
    errors_prev = rollups.totals(
        workspace=workspace, metric="messages", start=prev.start, end=prev.end, by=("provider", "kind", "code"),
        where={"status__in": ["failed", "unknown"]},
    )  # fmt: skip
    before = {(r["provider"], r["kind"], r["code"]): r["count"] for r in errors_prev}
    errors = sorted(
        (
            {"provider": r["provider"], "kind": r["kind"], "code": r["code"], "count": r["count"],
             "previous": before.get((r["provider"], r["kind"], r["code"]), 0),
             "change": change(r["count"], before.get((r["provider"], r["kind"], r["code"]))),
             "explanation": explain(r["provider"], r["code"]) or ("" if r["code"] else "No code given.")}
            for r in errors_now
        ),
        key=lambda e: (-e["count"], e["provider"], e["code"]),
    )  # fmt: skip
    sent = rollups.totals(
        workspace=workspace, metric="messages", start=period.start, end=period.end, by=("journey_id",),
        where={"status__in": ATTEMPTED, "journey_id__isnull": False},
    )  # fmt: skip
    sent = {r["journey_id"]: r["count"] for r in sent}
    outs = rollups.totals(
        workspace=workspace, metric="consent", start=period.start, end=period.end, by=("journey_id",),
        where={"status": rollups.OPTED_OUT, "journey_id__isnull": False},
    )  # fmt: skip
    outs = {r["journey_id"]: r["count"] for r in outs}
    names = dict(
        Journey.objects.filter(workspace=workspace, pk__in=set(sent) | set(outs)).values_list("pk", "name")
    )
    optouts = sorted(
        (
            {"journey_id": j, "journey": names.get(j, f"journey {j}"), "messages": sent.get(j, 0),
             "opt_outs": outs.get(j, 0), "per_1000": _rate(outs.get(j, 0), sent.get(j, 0), 1000)}
            for j in set(sent) | set(outs)
            if j in names  # a deleted journey's numbers are not shown by id
        ),
        key=lambda r: (-(r["per_1000"] or 0), r["journey"]),
    )  # fmt: skip
    return {
        "period": period,
        "previous": prev,
        "delivery": delivery,
        "errors": errors,
        "optouts_by_journey": optouts,
    }


def _round(x):
    return None if x is None else round(x, 2)
