"""The seeds' KPIs as reports (docs/analytics.md gives each exact definition): promise to pay,
call warm-up, OTP onboarding and the lifecycle. Each is a plain function of the workspace, a
`Period` of local days and `now`, returning JSON-ready dicts (pages, charts, CSV and the API all
read the same dict). Reads only; editor test runs never count."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Q

from channels_app.models import Message, Verification
from contacts.models import Contact, Event
from experiments.models import Experiment, ExperimentAssignment
from journeys.models import Journey, JourneyVersion, PromiseToPay, Step

from .periods import Period

PAID_WINDOW_DAYS = 7
SENT = ("sent", "delivered", "read", "unknown")  # left us: the contact may have it
CALL_EVENTS = ("call.answered", "call.no_answer", "call.busy")
CALL_ANSWERED = "call.answered"
WARMUP_TEMPLATE = "collections_call_warmup"
WARMUP_WINDOW_H = 24
STAGES = ("awareness", "engagement", "conversion", "retention", "loyalty")
NO_VARIANT = "no experiment"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _amount(value) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return amount if amount.is_finite() else None


def _nodes_of_type(workspace, node_type: str, journey_ids=None) -> dict[tuple[int, str], dict]:
    """(journey id, node id) -> node config, for every node of `node_type` in the workspace's
    published versions (node ids are stable across versions; the newest config wins)."""
    qs = JourneyVersion.objects.filter(
        journey__workspace=workspace, published_at__isnull=False, is_test=False
    ).order_by("journey_id", "number")
    if journey_ids is not None:
        qs = qs.filter(journey_id__in=journey_ids)
    out: dict[tuple[int, str], dict] = {}
    for journey_id, graph in qs.values_list("journey_id", "graph"):
        for node_id, node in ((graph or {}).get("nodes") or {}).items():
            if node.get("type") == node_type:
                out[(journey_id, node_id)] = node.get("config") or {}
    return out


# --- promise to pay -----------------------------------------------------------------------------


def _ptp_row() -> dict:
    return {"asked": 0, "window_open": 0, "closed": 0, "paid_7d": 0, "paid_rate": None,
            "promises": 0, "kept": 0, "broken": 0, "open_promises": 0,
            "amount_promised": Decimal(0), "amount_paid": Decimal(0)}  # fmt: skip


def _ptp_finish(row: dict) -> dict:
    row["paid_rate"] = _rate(row["paid_7d"], row["closed"])
    row["keep_rate"] = _rate(row["kept"], row["kept"] + row["broken"])
    row["amount_promised"] = str(row["amount_promised"])
    row["amount_paid"] = str(row["amount_paid"])
    return row


def _variants(workspace, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """(contact, journey) -> "experiment: arm name" of the contact's assignment in an A/B
    experiment of that journey (the first experiment of the journey when there are several)."""
    if not pairs:
        return {}
    journeys = {j for _, j in pairs}
    experiments = {
        e.pk: e
        for e in Experiment.objects.filter(workspace=workspace, journey_id__in=journeys).order_by("pk")
    }
    out: dict[tuple[int, int], str] = {}
    rows = ExperimentAssignment.objects.filter(
        workspace=workspace, experiment_id__in=experiments, contact_id__in={c for c, _ in pairs}
    ).values_list("contact_id", "experiment_id", "variant")
    for contact_id, experiment_id, variant in sorted(rows, key=lambda r: r[1]):
        e = experiments[experiment_id]
        key = (contact_id, e.journey_id)
        if key in pairs and key not in out:
            names = {v.get("exit"): v.get("name") or v.get("exit") for v in e.variants or []}
            out[key] = f"{e.name}: {names.get(variant, variant)}"
    return out


def promise_to_pay(*, workspace, period: Period, now: dt.datetime, journey_ids=None) -> dict:
    """Of the contacts sent the interactive promise-to-pay message (the first message of a
    `payment.promise` node to them, by the day it was sent, within the period), the share who
    paid within 7 days: the payment event of that node (`paid_event`, default payment_completed)
    on the day of the message or one of the 7 days after it, in the workspace's time zone. A
    contact whose 7 days have not ended yet is counted apart (`window_open`), not in the rate.
    Promises to pay the contact made in those days: kept (paid), broken, still open; the amounts
    promised and paid (the payment events' `amount`). By A/B variant and by channel."""
    nodes = _nodes_of_type(workspace, "payment.promise", journey_ids)
    refs = {f"journey:{j}/{n}": (j, n) for j, n in nodes}
    first: dict[int, dict] = {}
    if refs:
        rows = (
            Message.objects.filter(
                # journey_id first: the (journey_id, status) index narrows to these journeys' messages
                workspace=workspace, journey_id__in={j for j, _ in nodes}, direction="out", origin="journey",
                origin_ref__in=list(refs),
                status__in=SENT, created_at__gte=period.start, created_at__lt=period.end,
            )
            .order_by("created_at", "id")
            .values_list("contact_id", "kind", "origin_ref", "sent_at", "created_at")
        )  # fmt: skip
        for contact_id, kind, ref, sent_at, created_at in rows:
            if contact_id not in first:
                journey_id, node_id = refs[ref]
                at = sent_at or created_at
                window_end = period.midnight(period.day_of(at) + dt.timedelta(days=PAID_WINDOW_DAYS + 1))
                first[contact_id] = {"at": at, "kind": kind, "journey": journey_id, "window_end": window_end,
                                     "paid_event": nodes[(journey_id, node_id)].get("paid_event") or "payment_completed",
                                     "paid": False, "paid_amount": Decimal(0)}  # fmt: skip
    if first:
        earliest = min(f["at"] for f in first.values())
        latest = max(f["window_end"] for f in first.values())
        payments = Event.objects.filter(
            workspace=workspace, contact_id__in=list(first), name__in={f["paid_event"] for f in first.values()},
            occurred_at__gte=earliest, occurred_at__lt=latest,
        ).values_list("contact_id", "name", "occurred_at", "properties")  # fmt: skip
        for contact_id, name, at, props in payments:
            f = first[contact_id]
            if name == f["paid_event"] and f["at"] <= at < f["window_end"]:
                f["paid"] = True
                f["paid_amount"] += _amount((props or {}).get("amount")) or 0
        promises = PromiseToPay.objects.filter(
            workspace=workspace, contact_id__in=list(first), created_at__gte=earliest, created_at__lt=latest
        ).values_list("contact_id", "created_at", "status", "amount")
        for contact_id, at, status, amount in promises:
            f = first[contact_id]
            if f["at"] <= at < f["window_end"]:
                f.setdefault("promises", []).append((status, amount or 0))
    variants = _variants(workspace, {(c, f["journey"]) for c, f in first.items()})
    overall, by_variant, by_channel = _ptp_row(), defaultdict(_ptp_row), defaultdict(_ptp_row)
    daily = {day: _ptp_row() for day in period.buckets()}
    for contact_id, f in first.items():
        rows = (overall, by_variant[variants.get((contact_id, f["journey"]), NO_VARIANT)],
                by_channel[f["kind"]], daily[period.bucket_of(f["at"])])  # fmt: skip
        closed = now >= f["window_end"]
        for row in rows:
            row["asked"] += 1
            row["closed" if closed else "window_open"] += 1
            row["paid_7d"] += int(closed and f["paid"])
            row["amount_paid"] += f["paid_amount"]
            for status, amount in f.get("promises", []):
                row["promises"] += 1
                row["kept"] += status == PromiseToPay.Status.PAID
                row["broken"] += status == PromiseToPay.Status.BROKEN
                row["open_promises"] += status == PromiseToPay.Status.PROMISED
                row["amount_promised"] += amount
    return {
        "period": period.as_json(),
        "window_days": PAID_WINDOW_DAYS,
        "overall": _ptp_finish(overall),
        "by_variant": [{"variant": k, **_ptp_finish(v)} for k, v in sorted(by_variant.items())],
        "by_channel": [{"channel": k, **_ptp_finish(v)} for k, v in sorted(by_channel.items())],
        "daily": [{"date": d.isoformat(), **_ptp_finish(v)} for d, v in daily.items()],
    }


# --- call warm-up -------------------------------------------------------------------------------


def warmup_journeys_default(workspace) -> list[int]:
    """The journeys made from the call warm-up template."""
    return list(
        Journey.objects.filter(workspace=workspace, template_key=WARMUP_TEMPLATE).values_list("pk", flat=True)
    )


def _call_row() -> dict:
    return {"calls": 0, "answered": 0, "no_answer": 0, "busy": 0, "pickup_rate": None}


def call_warmup(
    *, workspace, period: Period, now: dt.datetime, warmup_journey_ids=None, window_h: int = WARMUP_WINDOW_H
) -> dict:
    """First-time pickup rate of agent calls, with and without a warm-up message. A contact's
    first call is their earliest call outcome event ever (`call.answered`, `call.no_answer`,
    `call.busy`: from the voice provider's status callbacks or recorded by the agent); it counts
    when it falls in the period. It was warmed up when a message of a warm-up journey (by default
    those made from the call warm-up template) left for the contact (sent, delivered or read)
    in the `window_h` hours before the call. Picked up: `call.answered`."""
    if warmup_journey_ids is None:
        warmup_journey_ids = warmup_journeys_default(workspace)
    in_period = Event.objects.filter(
        workspace=workspace, name__in=CALL_EVENTS, occurred_at__gte=period.start, occurred_at__lt=period.end
    ).values("contact_id")
    firsts = dict(
        Event.objects.filter(workspace=workspace, name__in=CALL_EVENTS, contact_id__in=in_period)
        .order_by()
        .values("contact_id")
        .annotate(first=Min("occurred_at"))
        .filter(first__gte=period.start, first__lt=period.end)
        .values_list("contact_id", "first")
    )
    outcome: dict[int, str] = {}
    for contact_id, name, at in (
        Event.objects.filter(workspace=workspace, name__in=CALL_EVENTS, contact_id__in=list(firsts))
        .order_by("occurred_at", "id")
        .values_list("contact_id", "name", "occurred_at")
    ):
        if at == firsts[contact_id] and contact_id not in outcome:
            outcome[contact_id] = name
    warmed: set[int] = set()
    if warmup_journey_ids and firsts:
        window = dt.timedelta(hours=window_h)
        messages = Message.objects.filter(
            workspace=workspace, direction="out", journey_id__in=list(warmup_journey_ids), status__in=SENT,
            contact_id__in=list(firsts), created_at__gte=min(firsts.values()) - window,
            created_at__lt=max(firsts.values()),
        ).values_list("contact_id", "sent_at", "created_at")  # fmt: skip
        for contact_id, sent_at, created_at in messages:
            at, call = sent_at or created_at, firsts[contact_id]
            if call - window <= at < call:
                warmed.add(contact_id)
    groups = {"with_warmup": _call_row(), "without_warmup": _call_row()}
    daily = {d: {"with_warmup": _call_row(), "without_warmup": _call_row()} for d in period.buckets()}
    for contact_id, name in outcome.items():
        key = "with_warmup" if contact_id in warmed else "without_warmup"
        for row in (groups[key], daily[period.bucket_of(firsts[contact_id])][key]):
            row["calls"] += 1
            row[name.split(".", 1)[1]] += 1
    for row in [*groups.values(), *(r for d in daily.values() for r in d.values())]:
        row["pickup_rate"] = _rate(row["answered"], row["calls"])
    with_, without = groups["with_warmup"]["pickup_rate"], groups["without_warmup"]["pickup_rate"]
    return {
        "period": period.as_json(),
        "window_h": window_h,
        "warmup_journeys": sorted(warmup_journey_ids),
        **groups,
        "uplift": round(with_ - without, 4) if with_ is not None and without is not None else None,
        "daily": [{"date": d.isoformat(), **v} for d, v in daily.items()],
    }


# --- OTP onboarding -----------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def otp_onboarding(*, workspace, period: Period, now: dt.datetime) -> dict:
    """Verifications started in the period, by the channel the last code went out on (a
    dispatcher's fallback included): verified (approved) and the rate, time to verify (start to
    approval, median and 90th percentile in seconds), fallback usage (a code resent on a later
    channel, or moved there by the dispatcher) and those still pending. Support: of the contacts leaving an `otp.verify` node in
    the period, the share whose exit leads to an `inbox.handoff` node."""
    by_channel: dict[str, dict] = defaultdict(lambda: {"started": 0, "verified": 0, "fallback": 0,
                                                       "verified_after_fallback": 0, "pending": 0, "_t": []})  # fmt: skip
    rows = list(
        Verification.objects.filter(
            workspace=workspace, created_at__gte=period.start, created_at__lt=period.end
        ).values_list("pk", "channels", "channel_index", "status", "created_at", "approved_at", "expires_at",
                      "last_message_id")
    )  # fmt: skip
    # the kinds the latest code went out on: its message, then the dispatcher's fallbacks of it
    # (read through the fallback_of index, a few at a time: no scan of the period's messages)
    kinds: dict[int, list[str]] = {}
    last = {r[7]: r[0] for r in rows if r[7]}
    kind_of = dict(Message.objects.filter(pk__in=list(last)).values_list("pk", "kind")) if last else {}
    for message_id, verification_id in last.items():
        kinds[verification_id] = [kind_of.get(message_id, "?")]
    frontier = dict(last)
    for _ in range(4):  # a chain is at most the OTP channels long
        if not frontier:
            break
        nxt = {}
        for pk, parent, kind in Message.objects.filter(fallback_of_id__in=list(frontier)).values_list(
            "pk", "fallback_of_id", "kind"
        ):
            kinds[frontier[parent]].append(kind)
            nxt[pk] = frontier[parent]
        frontier = nxt
    total = by_channel["all"]
    for pk, channels, index, status, created, approved, expires, _last in rows:
        channels = channels or ["?"]
        sent = kinds.get(pk) or [channels[min(index, len(channels) - 1)]]
        fallback = index > 0 or len(set(sent)) > 1
        for row in (by_channel[sent[-1]], total):
            row["started"] += 1
            row["fallback"] += fallback
            if status == Verification.Status.APPROVED:
                row["verified"] += 1
                row["verified_after_fallback"] += fallback
                if approved:
                    row["_t"].append((approved - created).total_seconds())
            elif status == Verification.Status.PENDING and expires > now:
                row["pending"] += 1
    channels_out = []
    for kind, row in sorted(by_channel.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        times = row.pop("_t")
        row.update(verification_rate=_rate(row["verified"], row["started"]),
                   fallback_rate=_rate(row["fallback"], row["started"]),
                   median_s=round(statistics.median(times), 1) if times else None, p90_s=_pct(times, 0.9))  # fmt: skip
        channels_out.append({"channel": kind, **row})
    # the share sent to support, from the steps the otp.verify nodes took
    otp_nodes = _nodes_of_type(workspace, "otp.verify")
    handoffs = _exits_to_type(workspace, {j for j, _ in otp_nodes}, "otp.verify", "inbox.handoff")
    exits = Counter()
    for version_id, node, exit_, n in (
        Step.objects.filter(journey__workspace=workspace, node_type="otp.verify", at__gte=period.start,
                            at__lt=period.end, enrollment__is_test=False)
        .order_by()
        .values_list("enrollment__version_id", "node", "exit")
        .annotate(n=Count("id"))
    ):  # fmt: skip
        exits["left"] += n
        exits["support"] += n if (version_id, node, exit_) in handoffs else 0
        exits[f"exit:{exit_ or 'failed'}"] += n
    return {
        "period": period.as_json(),
        "by_channel": channels_out,
        "journeys": {
            "left_otp_node": exits["left"],
            "sent_to_support": exits["support"],
            "support_rate": _rate(exits["support"], exits["left"]),
            "exits": {k.split(":", 1)[1]: v for k, v in sorted(exits.items()) if k.startswith("exit:")},
        },
    }


def _exits_to_type(workspace, journey_ids, from_type: str, to_type: str) -> set[tuple[int, str, str]]:
    """(version id, node id, exit) of every `from_type` node's exit that points at a `to_type` node."""
    out = set()
    for version_id, graph in JourneyVersion.objects.filter(
        journey_id__in=journey_ids, published_at__isnull=False
    ).values_list("pk", "graph"):
        nodes = (graph or {}).get("nodes") or {}
        for node_id, node in nodes.items():
            if node.get("type") != from_type:
                continue
            for exit_, target in (node.get("exits") or {}).items():
                if target and (nodes.get(target) or {}).get("type") == to_type:
                    out.add((version_id, node_id, exit_))
    return out


# --- lifecycle ----------------------------------------------------------------------------------


def _stage_at(rules, events_of: dict[tuple[str, bool], list], attributes: dict, at: dt.datetime) -> str:
    """The highest stage whose rule the contact matches at `at` ("" when none). `events_of` maps
    (event name, ever?) to times: the first one for "ever" rules, those in the window otherwise."""
    best = -1
    for rule in rules:
        index = STAGES.index(rule.stage)
        if index <= best:
            continue
        if rule.source == "event":
            since = at - dt.timedelta(days=rule.within_days) if rule.within_days else None
            times = events_of.get((rule.key, not rule.within_days), ())
            if any(t <= at and (since is None or t > since) for t in times):
                best = index
        elif rule.matches_attributes(attributes):
            best = index
    return STAGES[best] if best >= 0 else ""


def lifecycle(*, workspace, period: Period, now: dt.datetime) -> dict:
    """Contacts by lifecycle stage from the workspace's stage rules (analytics.LifecycleRule): a
    contact is in the highest stage whose rule it matches, an event rule by the event having
    happened (within its last N days, when set), an attribute rule by the contact's attribute
    (its current value: attributes keep no history). Stages at the end of each day (or week) of
    the period, and the flows: how many contacts moved from one stage to another between two
    consecutive snapshots. Contacts matching no rule are counted as "unstaged"."""
    from .models import LifecycleRule

    rules = list(LifecycleRule.objects.filter(workspace=workspace).order_by("stage", "pk"))
    buckets = period.buckets()
    weekly = len(buckets) < len(period.days())
    snapshots = [
        min(period.midnight(b + dt.timedelta(days=7 if weekly else 1)), now)
        for b in buckets
        if period.midnight(b) <= now
    ]
    # An "ever" rule needs only each contact's first such event; a rule "within N days" its events
    # from N days before the first snapshot. Only contacts some rule can match are read one by
    # one; every other contact is unstaged throughout.
    ever = {r.key for r in rules if r.source == "event" and not r.within_days}
    windowed = [r.within_days for r in rules if r.source == "event" and r.within_days]
    window_keys = {r.key for r in rules if r.source == "event" and r.within_days}
    history: dict[int, dict[tuple[str, bool], list]] = defaultdict(lambda: defaultdict(list))
    for contact_id, name, first in (
        Event.objects.filter(workspace=workspace, name__in=ever, occurred_at__lte=now)
        .order_by()
        .values("contact_id", "name")
        .annotate(first=Min("occurred_at"))
        .values_list("contact_id", "name", "first")
    ):
        history[contact_id][(name, True)].append(first)
    if windowed:
        since = min([*snapshots, now]) - dt.timedelta(days=max(windowed))
        for contact_id, name, at in Event.objects.filter(
            workspace=workspace, name__in=window_keys, occurred_at__gte=since, occurred_at__lte=now
        ).values_list("contact_id", "name", "occurred_at"):
            history[contact_id][(name, False)].append(at)
    attribute_keys = {r.key for r in rules if r.source == "attribute"}
    by_attribute = Q(pk__in=[])
    for key in attribute_keys:
        by_attribute |= Q(attributes__has_key=key)
    candidates = dict(
        Contact.objects.filter(Q(pk__in=list(history)) | by_attribute, workspace=workspace).values_list(
            "pk", "attributes"
        )
    )
    total = Contact.objects.filter(workspace=workspace).count()
    counts = [Counter() for _ in snapshots]
    flows: Counter = Counter()
    current: Counter = Counter()
    for contact_id, attributes in candidates.items():
        events_of = history.get(contact_id, {})
        stages = [_stage_at(rules, events_of, attributes or {}, at) or "unstaged" for at in snapshots]
        for i, stage in enumerate(stages):
            counts[i][stage] += 1
            if i and stages[i - 1] != stage:
                flows[(stages[i - 1], stage)] += 1
        current[_stage_at(rules, events_of, attributes or {}, now) or "unstaged"] += 1
    for counter in [*counts, current]:
        counter["unstaged"] += total - len(candidates)
    order = [*STAGES, "unstaged"]
    return {
        "period": period.as_json(),
        "rules": len(rules),
        "stages": order,
        "now": [{"stage": s, "contacts": current.get(s, 0)} for s in order],
        "series": [
            {"date": b.isoformat(), **{s: c.get(s, 0) for s in order}}
            for b, c in zip(buckets, counts, strict=False)
        ],
        "flows": [
            {"from": a, "to": b, "contacts": n}
            for (a, b), n in sorted(
                flows.items(), key=lambda kv: (order.index(kv[0][0]), order.index(kv[0][1]))
            )
        ],
    }


# --- one entry point for the pages and the API -------------------------------------------------


def compute(kind: str, *, workspace, period, now, params) -> dict:
    """One KPI report; `params` holds its filters (journeys, warm-up journeys, window)."""
    if kind == "promise-to-pay":
        return promise_to_pay(workspace=workspace, period=period, now=now, journey_ids=params.get("journeys"))
    if kind == "call-warmup":
        return call_warmup(workspace=workspace, period=period, now=now,
                                warmup_journey_ids=params.get("warmup"),
                                window_h=params.get("window_h") or WARMUP_WINDOW_H)  # fmt: skip
    if kind == "otp":
        return otp_onboarding(workspace=workspace, period=period, now=now)
    if kind == "lifecycle":
        return lifecycle(workspace=workspace, period=period, now=now)
    raise KeyError(kind)


def window_h_parse(value) -> int | None:
    if value in (None, ""):
        return None
    if not str(value).isdigit() or not 1 <= int(value) <= 720:
        raise ValidationError({"window_h": ["Hours before the call: a whole number from 1 to 720."]})
    return int(value)
