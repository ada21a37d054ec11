"""The home dashboard's numbers by role (the page and `/api/v1/analytics/dashboard/` show the same):
marketing (journeys' entries and conversions, messages by channel and status, journeys failing or
lagging), compliance (consent changes, opt-out rates, suppressions, blocked sends, provider errors)
and an agent's queues. Everything but the agent's queues and the engine's backlog is read from the
rollups (`analytics.rollups`); each figure comes with the previous period of the same length."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Q

from cpaas.models import Workspace
from cpaas.roles import role_allows
from inbox.models import Conversation
from inbox.selectors import Viewer, visible_queues
from journeys.engine.runner import RUNNABLE
from journeys.models import Enrollment, Journey

from . import rollups
from .error_codes import explain
from .periods import Period, workspace_zone
from .periods import period_parse as days_parse

STATUSES = [
    "queued",
    "deferred",
    "sending",
    "sent",
    "unknown",
    "delivered",
    "read",
    "failed",
    "blocked",
    "received",
]
# attempted sends (what a delivery rate and an opt-out rate are out of)
ATTEMPTED = ["sending", "sent", "unknown", "delivered", "read", "failed"]
DELIVERED = ["delivered", "read"]
PRESETS = {"today": 1, "7d": 7, "30d": 30, "90d": 90}
LAGGING_S = 60  # a journey whose oldest due enrolment waited longer is listed as lagging


def period_of(workspace: Workspace, first: dt.date, last: dt.date) -> Period:
    return Period(first, last, workspace_zone(workspace))


def previous(workspace: Workspace, period: Period) -> Period:
    """The same number of days just before."""
    last = period.first - dt.timedelta(days=1)
    return period_of(workspace, last - dt.timedelta(days=period.length - 1), last)


def today(workspace: Workspace, now: dt.datetime) -> dt.date:
    return now.astimezone(rollups.zone_of(workspace)).date()


def period_parse(workspace: Workspace, params, now: dt.datetime) -> tuple[Period, dict[str, str]]:
    """The period a page asks for: `from` and `to` (local dates, YYYY-MM-DD, inclusive: the one
    parser, `periods.period_parse`) or a `range` preset (today, 7d, 30d, 90d; 7d by default). Bad
    input gives the default period and an error per field, saying what was wrong."""
    errors: dict[str, str] = {}
    last = today(workspace, now)
    preset = params.get("range") or ""
    if preset and preset not in PRESETS:
        errors["range"] = f"Unknown range {preset!r}: one of {', '.join(PRESETS)}."
    days = PRESETS.get(preset, 7)
    default = period_of(workspace, last - dt.timedelta(days=days - 1), last)
    first, to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    if not first and not to:
        return default, errors
    try:
        return days_parse(
            workspace=workspace, first=first or None, last=to or None, now=now, default_days=days
        ), errors
    except ValidationError as exc:
        return default, {**errors, **{field: " ".join(msgs) for field, msgs in exc.message_dict.items()}}


def _sum(rows, where=lambda r: True) -> int:
    return sum(r["count"] for r in rows if where(r))


def change(now: float | int | None, before: float | int | None) -> float | None:
    """Relative change in % from the previous period (None when there was nothing before)."""
    if now is None or not before:
        return None
    return round(100 * (now - before) / before, 1)


def _rate(part: int, whole: int, per: int = 100) -> float | None:
    return round(per * part / whole, 2) if whole else None


def _figure(label: str, key: str, value, prev, unit: str = "") -> dict:
    return {
        "key": key,
        "label": label,
        "value": value,
        "previous": prev,
        "change": change(value, prev),
        "unit": unit,
    }


# --- marketing ---------------------------------------------------------------------------------


def marketing(*, workspace: Workspace, period: Period, now: dt.datetime) -> dict:
    prev = previous(workspace, period)
    live = {
        j.pk: j
        for j in Journey.objects.filter(workspace=workspace, status=Journey.Status.LIVE).order_by("name")
    }
    per_journey: dict[str, dict] = {}
    for metric in ("enrolments", "conversions"):
        for key, p in (("now", period), ("prev", prev)):
            rows = rollups.totals(
                workspace=workspace, metric=metric, start=p.start, end=p.end, by=("journey_id",)
            )
            per_journey[f"{metric}_{key}"] = {r["journey_id"]: r["count"] for r in rows}
    failed = rollups.totals(
        workspace=workspace, metric="messages", start=period.start, end=period.end, by=("journey_id",),
        where={"status": "failed", "journey_id__isnull": False},
    )  # fmt: skip
    failed = {r["journey_id"]: r["count"] for r in failed}
    lag = {
        r["journey_id"]: r
        for r in Enrollment.objects.filter(RUNNABLE, workspace=workspace, due_at__lte=now)
        .values("journey_id")
        .annotate(oldest=Min("due_at"), waiting=Count("id"))
        .order_by()
    }
    journeys = []
    for jid, j in live.items():
        entries, conversions = (
            per_journey["enrolments_now"].get(jid, 0),
            per_journey["conversions_now"].get(jid, 0),
        )
        journeys.append({
            "id": jid, "name": j.name,
            "entries": entries, "entries_previous": per_journey["enrolments_prev"].get(jid, 0),
            "conversions": conversions, "conversions_previous": per_journey["conversions_prev"].get(jid, 0),
            "conversion_rate": _rate(conversions, entries),
        })  # fmt: skip
    attention = []
    names = dict(
        Journey.objects.filter(workspace=workspace, pk__in=set(failed) | set(lag)).values_list("pk", "name")
    )
    for jid in sorted(set(failed) | set(lag), key=lambda j: names.get(j, "")):
        late = lag.get(jid)
        lag_s = (now - late["oldest"]).total_seconds() if late else 0.0
        if failed.get(jid) or lag_s > LAGGING_S:
            attention.append({
                "id": jid, "name": names.get(jid, f"journey {jid}"), "failed_messages": failed.get(jid, 0),
                "lag_s": round(lag_s, 1), "waiting": late["waiting"] if late and lag_s > LAGGING_S else 0,
            })  # fmt: skip
    day = today(workspace, now)
    t0, t1 = rollups.day_bounds(workspace, day)
    today_rows = rollups.totals(
        workspace=workspace, metric="messages", start=t0, end=t1, by=("kind", "status")
    )
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    for r in today_rows:
        by_kind[r["kind"]][r["status"]] = by_kind[r["kind"]].get(r["status"], 0) + r["count"]
    grain = "hour" if period.length == 1 else "day"
    series = rollups.series(
        workspace=workspace,
        metric="messages",
        start=period.start,
        end=period.end,
        by=("status",),
        grain=grain,
    )
    totals_now = rollups.totals(
        workspace=workspace, metric="messages", start=period.start, end=period.end, by=("status",)
    )
    totals_prev = rollups.totals(
        workspace=workspace, metric="messages", start=prev.start, end=prev.end, by=("status",)
    )
    sent_now = _sum(totals_now, lambda r: r["status"] in ATTEMPTED)
    sent_prev = _sum(totals_prev, lambda r: r["status"] in ATTEMPTED)
    delivered_now = _sum(totals_now, lambda r: r["status"] in DELIVERED)
    delivered_prev = _sum(totals_prev, lambda r: r["status"] in DELIVERED)
    entries_now = sum(per_journey["enrolments_now"].values())
    entries_prev = sum(per_journey["enrolments_prev"].values())
    conv_now = sum(per_journey["conversions_now"].values())
    conv_prev = sum(per_journey["conversions_prev"].values())
    return {
        "figures": [
            _figure("Messages sent", "messages_sent", sent_now, sent_prev),
            _figure(
                "Delivery rate",
                "delivery_rate",
                _rate(delivered_now, sent_now),
                _rate(delivered_prev, sent_prev),
                "%",
            ),
            _figure("Journey entries", "entries", entries_now, entries_prev),
            _figure("Goal conversions", "conversions", conv_now, conv_prev),
        ],  # fmt: skip
        "journeys": journeys,
        "attention": attention,
        "today": day,
        "today_by_channel": {k: dict(v) for k, v in sorted(by_kind.items())},
        "grain": grain,
        "series": _by_bucket(series, "status", STATUSES),
    }


def _by_bucket(rows: list[dict], dim: str, order: list[str]) -> list[dict]:
    """Series rows pivoted: one dict per bucket start with a count per value of `dim`."""
    out: dict[dt.datetime, dict] = {}
    for r in rows:
        bucket = out.setdefault(r["start"], {"start": r["start"], "counts": {}})
        bucket["counts"][r[dim]] = bucket["counts"].get(r[dim], 0) + r["count"]
    for bucket in out.values():
        bucket["counts"] = {k: bucket["counts"][k] for k in sorted(bucket["counts"], key=_order(order))}
    return [out[k] for k in sorted(out)]


def _order(order: list[str]):
    return lambda v: (order.index(v) if v in order else len(order), str(v))


# --- compliance --------------------------------------------------------------------------------


def compliance(*, workspace: Workspace, period: Period) -> dict:
    prev = previous(workspace, period)

    def consent(p: Period):
        return rollups.totals(
            workspace=workspace, metric="consent", start=p.start, end=p.end, by=("kind", "purpose", "status")
        )

    consent_now, consent_prev = consent(period), consent(prev)
    sent = rollups.totals(
        workspace=workspace, metric="messages", start=period.start, end=period.end, by=("kind", "purpose"),
        where={"status__in": ATTEMPTED},
    )  # fmt: skip
    sent = {(r["kind"], r["purpose"]): r["count"] for r in sent}
    optouts = defaultdict(int)
    for r in consent_now:
        if r["status"] == rollups.OPTED_OUT:
            optouts[(r["kind"], r["purpose"])] += r["count"]
    optout_rates = [
        {"kind": k, "purpose": p, "messages": sent.get((k, p), 0), "opt_outs": optouts.get((k, p), 0),
         "per_1000": _rate(optouts.get((k, p), 0), sent.get((k, p), 0), 1000)}
        for k, p in sorted(set(sent) | set(optouts))
    ]  # fmt: skip

    def by(metric, dims, p, where=None):
        rows = rollups.totals(
            workspace=workspace, metric=metric, start=p.start, end=p.end, by=dims, where=where
        )
        return {tuple(r[d] for d in dims): r["count"] for r in rows}

    blocked_now = by("messages", ("rule",), period, {"status": "blocked"})
    blocked_prev = by("messages", ("rule",), prev, {"status": "blocked"})
    supp_now = by("suppressions", ("code",), period)
    supp_prev = by("suppressions", ("code",), prev)
    errors_now = by("messages", ("provider", "code"), period, {"status__in": ["failed", "unknown"]})
    errors_prev = by("messages", ("provider", "code"), prev, {"status__in": ["failed", "unknown"]})
    consent_series = rollups.series(
        workspace=workspace, metric="consent", start=period.start, end=period.end, by=("status",),
        grain="hour" if period.length == 1 else "day",
    )  # fmt: skip
    n_optouts = _sum(consent_now, lambda r: r["status"] == rollups.OPTED_OUT)
    n_optouts_prev = _sum(consent_prev, lambda r: r["status"] == rollups.OPTED_OUT)
    return {
        "figures": [
            _figure("Consent changes", "consent_changes", _sum(consent_now), _sum(consent_prev)),
            _figure("Opt-outs", "opt_outs", n_optouts, n_optouts_prev),
            _figure("Suppressions added", "suppressions", sum(supp_now.values()), sum(supp_prev.values())),
            _figure("Blocked sends", "blocked", sum(blocked_now.values()), sum(blocked_prev.values())),
            _figure("Provider errors", "provider_errors", sum(errors_now.values()), sum(errors_prev.values())),
        ],
        "consent_series": _by_bucket(consent_series, "status", ["opted_in", "pending", "opted_out", "suppressed"]),
        "optout_rates": optout_rates,
        "blocked": [{"rule": k[0] or "(none)", "count": v, "previous": blocked_prev.get(k, 0)}
                    for k, v in sorted(blocked_now.items(), key=lambda kv: -kv[1])],
        "suppressions": [{"reason": k[0], "count": v, "previous": supp_prev.get(k, 0)}
                         for k, v in sorted(supp_now.items(), key=lambda kv: -kv[1])],
        "provider_errors": [{"provider": k[0], "code": k[1] or "(none)", "count": v, "previous": errors_prev.get(k, 0),
                             "explanation": explain(k[0], k[1])}
                            for k, v in sorted(errors_now.items(), key=lambda kv: -kv[1])],
    }  # fmt: skip


# --- an agent's queues -------------------------------------------------------------------------


def agent_queues(*, workspace: Workspace, user, role: str) -> list[dict]:
    """The queues the agent sees, with open, unassigned, theirs and past-SLA conversations (open
    conversations only: a live count, not history)."""
    from inbox import sla
    from inbox.models import Conversation as C

    viewer = Viewer.for_member(workspace, user, role)
    queues = list(visible_queues(viewer).order_by("name"))
    now = dt.datetime.now(dt.UTC)
    rows = (
        Conversation.objects.filter(workspace=workspace, queue__in=queues)
        .exclude(status=C.Status.RESOLVED)
        .values("queue_id")
        .annotate(
            open=Count("pk"),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            mine=Count("pk", filter=Q(assignee=user)),
            breached=Count("pk", filter=sla.breached(now)),
        )
        .order_by()
    )
    by_queue = {r["queue_id"]: r for r in rows}
    keys = ("open", "unassigned", "mine", "breached")
    return [
        {"id": q.pk, "name": q.name, **{k: by_queue.get(q.pk, {}).get(k, 0) for k in keys}} for q in queues
    ]


def sections_for(role: str) -> list[str]:
    """Which parts of the dashboard a role sees."""
    out = []
    if role_allows(role, "analytics.view"):
        out.append("marketing")
    if role_allows(role, "consent.policies"):
        out.append("compliance")
    if role_allows(role, "inbox.view") and not role_allows(role, "inbox.supervise"):
        out.append("queues")
    return out


def dashboard(
    *, workspace: Workspace, period: Period, now: dt.datetime, user=None, role: str = "admin"
) -> dict:
    sections = sections_for(role)
    out: dict = {"sections": sections, "period": period, "previous": previous(workspace, period)}
    if "marketing" in sections:
        out["marketing"] = marketing(workspace=workspace, period=period, now=now)
    if "compliance" in sections:
        out["compliance"] = compliance(workspace=workspace, period=period)
    if "queues" in sections and user is not None:
        out["queues"] = agent_queues(workspace=workspace, user=user, role=role)
    return out
