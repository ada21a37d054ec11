"""An experiment's results: counts aggregated in SQL (at most four queries whatever the number of
contacts), the statistics of `experiments.stats` applied to them, and the words a marketer reads.
`compute(experiment)` returns the dict below; `refresh()` stores it on the experiment (the cache
the pages and the API read), run by the worker's schedule (`tasks.experiments_results_refresh`)
and on demand.

What is counted, per arm (a variant's exit), over the contacts assigned to it (exposed) up to now:

- conversion: the contact has a `contacts.Event` named like the goal event within the goal
  window after their exposure (the first such event dates the conversion);
- opt-out: a consent event to `opted_out` (any channel or purpose) within the window;
- delivery failure: a message of this journey to the contact, created within the window, that
  failed; complaint reply: an inbound message within the window whose text matches
  COMPLAINT_PATTERN; reply: any inbound message within the window;
- cost: the segments of this journey's messages to the contact within the window × the
  experiment's price per channel kind (`Experiment.prices`, e.g. {"sms": 0.04}); summed contact
  by contact up to COST_SAMPLE exposures, beyond that over a 1-in-k sample of contacts by id
  (`cost_sample` says so), the arm's total being the sample's mean × its exposures.

Each guardrail and secondary rate is "contacts with at least one / contacts exposed", so every
rate is a proportion of the same randomised population and the two-proportion statistics apply.

The dict (JSON: numbers are floats or None, never NaN; rates and lifts are fractions, 0.041 =
4.1 %; days are counted from the start of the experiment, day 0 being its first 24 hours):

    {
      "version": 1,
      "computed_at": ISO datetime,
      "summary": "Variant B converts 4.1 % against 3.2 % (+28 %, 95 % interval +9 % to +49 %); ...",
      "warnings": [{"code": "underpowered" | "srm" | "peeking" | "guardrail" | "no_goal"
                              | "no_baseline", "text": words}],
      "method": {"alpha", "confidence" (0.95), "sequential": bool, "tau2" (sequential mode),
                 "correction": "holm" | "bh" | None (None with a single comparison),
                 "correction_label", "test", "interval", "bayes", "sequential_method"},
      "goal": {"event", "window_days"},
      "control": exit, "leader": exit | None (the variant with the best rate, if any),
      "started_at": ISO | None, "days_running": float | None,
      "arms": [{
          "exit", "name", "weight", "control": bool,
          "exposures", "conversions",
          "rate": {"value", "low", "high"},                           # Wilson
          # the rest is None for the control:
          "lift": {"absolute", "absolute_low", "absolute_high",       # unpooled interval
                   "relative", "relative_low", "relative_high"},      # delta method
          "p_value",            # pooled two-proportion z test (fixed horizon)
          "sequential": {"p_value", "low", "high"} | None,            # mSPRT, absolute difference
          "p_adjusted",         # what decides: the sequential p in sequential mode, else p_value,
                                # after the correction when there are several variants
          "significant": bool,  # p_adjusted < alpha
          "chance_to_beat_control", "expected_loss" (rate lost if chosen and worse),
          "expected_loss_control" (rate lost by keeping the control if this one is better),
          "secondary": {"reply_rate": {"value", "low", "high", "count"},
                        "cost": total | None, "cost_per_conversion": | None,
                        "cost_per_contact": mean | None,
                        "cost_test": {"difference", "low", "high", "p_value"} | None  # Welch
                        },
      }],
      "guardrails": [{"metric", "label", "exit", "watched": bool, "threshold": | None,
                      "count", "rate", "control_rate", "difference", "low", "high",
                      "status": "ok" | "watch" | "breached", "breached": bool}],
      "srm": {"observed": [...], "expected": [...], "chi2", "p_value", "mismatch"} | None,
      "power": {"baseline_rate", "baseline_source": "planned" | "observed" | None, "mde",
                "power", "required_per_arm", "smallest_arm", "progress" (0..1+),
                "entries_per_day", "expected_days", "days_remaining", "power_now"},
      "series": {"days": [0, 1, ...], "dates": ["2026-12-01", ...],
                 "arms": {exit: {"exposures": [per day], "cumulative_exposures": [...],
                                 "cumulative_conversions": [...], "rate": [...],
                                 "low": [...], "high": [...]}}},
    }

A guardrail is breached when the variant's rate exceeds the control's by more than the threshold
set for it (`Experiment.guardrails`, a fraction: 0.01 = one point) and the rise is significant
(the 95 % interval of the difference is above 0); "watch" when it exceeds the threshold without
being significant yet. Metrics without a threshold are shown, never breached."""

from __future__ import annotations

import datetime as dt
import logging
import math

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from channels_app.models import Message
from consent.models import ConsentEvent
from consent.models import Status as ConsentStatus
from contacts.models import Event

from . import stats
from .models import Experiment, ExperimentAssignment

log = logging.getLogger(__name__)
VERSION = 1
DAY_S = 86400
# An inbound reply counts as a complaint when its text matches (case-insensitive, in SQL on
# both databases: PostgreSQL's ~*, SQLite's REGEXP that Django provides).
COMPLAINT_WORDS = ("complain", "spam", "harass", "scam", "ombudsman", "regulator", "report you")
COMPLAINT_PATTERN = "|".join(COMPLAINT_WORDS)
GUARDRAIL_LABELS = {
    "opt_out_rate": "Opt-out rate",
    "delivery_failure_rate": "Delivery failure rate",
    "complaint_replies": "Complaint replies",
}
CORRECTION_LABELS = {
    "holm": "Holm (family-wise error rate)",
    "bh": "Benjamini–Hochberg (false discovery rate)",
}
DEFAULT_PLANNED_SAMPLE = 10_000  # per arm, for the sequential mixture when no sample size can be planned
ENTRY_RATE_DAYS = 7  # the entry rate is the exposures of the last week (or of the days so far)
WORK_MEM = "256MB"  # for the compute's own queries only (see _counts)
COST_SAMPLE = 20_000  # contacts whose cost is summed one by one; beyond, a 1-in-k sample by id


# --- SQL ----------------------------------------------------------------------------------------


def _sql() -> dict:
    """The few expressions that differ between PostgreSQL and SQLite: `within` (a time {t} inside
    the window after the exposure and not after now), `upto` (not after now), `day` (the day
    index of {t} counted from the start), `regex` (case-insensitive match)."""
    if connection.vendor == "postgresql":
        return {
            "within": "{t} >= a.exposed_at AND {t} < a.exposed_at + %s * interval '1 second' AND {t} <= %s",
            "upto": "{t} <= %s",
            # date_bin is a C function: far cheaper on a million rows than epoch arithmetic in numeric
            "day": "date_bin('1 day', {t}, %s)",
            "regex": "{t} ~* %s",
        }
    return {
        "within": "julianday({t}) >= julianday(a.exposed_at) AND julianday({t}) < julianday(a.exposed_at) + %s / 86400.0"
        " AND julianday({t}) <= julianday(%s)",
        "upto": "julianday({t}) <= julianday(%s)",
        "day": "cast(floor(julianday({t}) - julianday(%s)) as integer)",
        "regex": "{t} REGEXP %s",
    }


def _param(value: dt.datetime):
    """A datetime as the database compares it (SQLite keeps UTC text)."""
    if connection.vendor == "postgresql":
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _counts(experiment: Experiment, start: dt.datetime, now: dt.datetime) -> dict:
    """Everything counted, in at most four queries, plus on PostgreSQL planner settings for these
    queries only (SET LOCAL, then back to the defaults so the rest of the caller's transaction
    plans as usual): no hash or merge joins, so the joins look each of their few rows (goal
    events, opt-outs, failures, replies, sampled contacts) up in the (experiment, contact) index
    instead of hashing or sorting the million assignments (the planner, knowing nothing of how
    the UNION's contacts spread, prefers that; the lookups measured 1.7-2.5 times faster), and
    the memory to group a hundred thousand contacts without spilling to disk."""
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        if postgres:
            _execute(
                f"SET LOCAL work_mem = '{WORK_MEM}'; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"
            )
        counts = _count_queries(experiment, start, now)
        if postgres:
            _execute(
                "SET LOCAL work_mem TO DEFAULT; SET LOCAL enable_hashjoin TO DEFAULT;"
                " SET LOCAL enable_mergejoin TO DEFAULT"
            )
    for key in ("exposures", "conversions"):
        counts[key] = [(variant, _day_index(day, start), n) for variant, day, n in counts[key]]
    return counts


def _execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _day_index(day, start: dt.datetime) -> int:
    """The day index SQL gave: an integer (SQLite) or the start of its day bin (PostgreSQL)."""
    if isinstance(day, dt.datetime):
        return (day - start) // dt.timedelta(days=1)
    return int(day or 0)


def _count_queries(experiment: Experiment, start: dt.datetime, now: dt.datetime) -> dict:
    q = _sql()
    a_table = ExperimentAssignment._meta.db_table
    window = experiment.goal_window_s
    start_p, now_p = _param(start), _param(now)
    # (one scan for exposures and conversions together, the goal events gathered per contact
    # first, measured slower on PostgreSQL than these two: bench/experiments.py)
    exits = [v["exit"] for v in experiment.variants or [] if isinstance(v, dict) and v.get("exit")]
    if connection.vendor == "postgresql" and exits:
        # One count per arm and day, each a range of the (experiment, variant, exposed_at) index
        # read alone: measured twice as fast as grouping a million rows by a computed day, whose
        # groups the planner cannot estimate (so it never splits that work between workers).
        # Day 0 also takes any exposure before the start and the last day any after, as the
        # clamping in _daily does; arms of no variant (none is shown) are left out.
        last = max(0, math.floor((now - start).total_seconds() / DAY_S))
        exposures = _rows(
            "SELECT v.variant, d.k, c.n FROM unnest(%s::text[]) v(variant) CROSS JOIN generate_series(0, %s) d(k)"
            f" CROSS JOIN LATERAL (SELECT COUNT(*) AS n FROM {a_table} a WHERE a.experiment_id = %s"
            " AND a.variant = v.variant AND a.exposed_at <= %s"
            " AND a.exposed_at >= CASE WHEN d.k = 0 THEN '-infinity' ELSE %s + d.k * interval '1 day' END"
            " AND a.exposed_at < CASE WHEN d.k = %s THEN 'infinity' ELSE %s + (d.k + 1) * interval '1 day' END"
            ") c WHERE c.n > 0",
            [exits, last, experiment.pk, now_p, start_p, last, start_p],
        )
    else:
        day_a = q["day"].format(t="a.exposed_at")
        exposures = _rows(
            f"SELECT a.variant, {day_a}, COUNT(*) FROM {a_table} a"
            f" WHERE a.experiment_id = %s AND {q['upto'].format(t='a.exposed_at')}"
            f" GROUP BY 1, 2",
            [start_p, experiment.pk, now_p],
        )
    conversions = []
    if experiment.goal_event:
        day_c = q["day"].format(t="MIN(e.occurred_at)")
        conversions = _rows(
            f"SELECT variant, day, COUNT(*) FROM ("
            f" SELECT a.variant AS variant, {day_c} AS day FROM {a_table} a"
            f" JOIN {Event._meta.db_table} e ON e.contact_id = a.contact_id"
            f" WHERE a.experiment_id = %s AND e.workspace_id = %s AND e.name = %s"
            f" AND {q['within'].format(t='e.occurred_at')}"
            f" GROUP BY a.id, a.variant) c GROUP BY variant, day",
            [start_p, experiment.pk, experiment.workspace_id, experiment.goal_event, window, now_p],
        )
    m_table = Message._meta.db_table
    prices = {k: float(v) for k, v in (experiment.prices or {}).items() if _is_number(v)}
    cost, sample = [], 1
    if prices:
        # Cost per contact from a 1-in-k sample of contacts by id (k = 1 up to COST_SAMPLE
        # exposures): each sampled contact's messages are found through the (workspace,
        # contact) index, so the work stays bounded however many contacts the arms hold.
        total = sum(n for _, _, n in exposures)
        sample = max(1, math.ceil(total / COST_SAMPLE))
        price_case = "CASE m.kind " + " ".join("WHEN %s THEN %s" for _ in prices) + " ELSE 0 END"
        price_params = [v for kind, price in sorted(prices.items()) for v in (kind, price)]
        cost = _rows(
            "SELECT variant, COUNT(*), SUM(cost), SUM(cost * cost) FROM ("
            f" SELECT a.variant AS variant, COALESCE(SUM(m.segments * ({price_case})), 0) AS cost"
            f" FROM {a_table} a LEFT JOIN {m_table} m ON m.contact_id = a.contact_id AND m.workspace_id = %s"
            f" AND m.journey_id = %s AND m.direction = %s AND {q['within'].format(t='m.created_at')}"
            f" WHERE a.experiment_id = %s AND {q['upto'].format(t='a.exposed_at')} AND a.contact_id %% %s = 0"
            " GROUP BY a.id, a.variant) per GROUP BY variant",
            [
                *price_params,
                experiment.workspace_id,
                experiment.journey_id,
                Message.Direction.OUTBOUND,
                window,
                now_p,
                experiment.pk,
                now_p,
                sample,
            ],  # fmt: skip
        )
    regex = q["regex"].format(t="m.text")
    pattern = COMPLAINT_PATTERN if connection.vendor == "postgresql" else f"(?i){COMPLAINT_PATTERN}"
    # The guardrails and replies: the few rows that matter (opt-outs, the journey's failed messages
    # through its partial index, inbound messages) joined once to the assignments; each counted
    # once per contact. Never the journey's every message: that join is what a million costs.
    flags = _rows(
        "SELECT a.variant,"
        " COUNT(DISTINCT CASE WHEN x.kind = 'opt_out' THEN a.id END),"
        " COUNT(DISTINCT CASE WHEN x.kind = 'failed' THEN a.id END),"
        " COUNT(DISTINCT CASE WHEN x.kind = 'in' AND x.complaint = 1 THEN a.id END),"
        " COUNT(DISTINCT CASE WHEN x.kind = 'in' THEN a.id END)"
        f" FROM {a_table} a JOIN ("
        f" SELECT ce.contact_id AS contact_id, ce.occurred_at AS at, 'opt_out' AS kind, 0 AS complaint"
        f" FROM {ConsentEvent._meta.db_table} ce WHERE ce.workspace_id = %s AND ce.new_status = %s"
        f" UNION ALL SELECT m.contact_id, m.created_at, 'failed', 0 FROM {m_table} m"
        f" WHERE m.journey_id = %s AND m.status = %s AND m.workspace_id = %s"
        f" UNION ALL SELECT m.contact_id, m.created_at, 'in', CASE WHEN {regex} THEN 1 ELSE 0 END"
        f" FROM {m_table} m WHERE m.workspace_id = %s AND m.direction = %s AND m.created_at >= %s"
        f") x ON x.contact_id = a.contact_id"
        f" WHERE a.experiment_id = %s AND {q['within'].format(t='x.at')} GROUP BY a.variant",
        [
            experiment.workspace_id,
            ConsentStatus.OPTED_OUT,
            experiment.journey_id,
            Message.Status.FAILED,
            experiment.workspace_id,
            pattern,
            experiment.workspace_id,
            Message.Direction.INBOUND,
            start_p,
            experiment.pk,
            window,
            now_p,
        ],  # fmt: skip
    )
    return {
        "exposures": exposures,
        "conversions": conversions,
        "flags": {row[0]: [int(v or 0) for v in row[1:]] for row in flags},
        "cost": {row[0]: (int(row[1]), float(row[2] or 0), float(row[3] or 0)) for row in cost},
        "cost_sample": sample,
        "priced": bool(prices),
    }


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- computing ----------------------------------------------------------------------------------


def _start(experiment: Experiment, now: dt.datetime) -> dt.datetime:
    return experiment.started_at or _first_exposure(experiment) or now


def _first_exposure(experiment: Experiment) -> dt.datetime | None:
    return (
        ExperimentAssignment.objects.filter(experiment=experiment)
        .order_by("exposed_at")
        .values_list("exposed_at", flat=True)
        .first()
    )


def _daily(rows, exits, days: int) -> dict[str, list[int]]:
    per = {e: [0] * days for e in exits}
    for variant, day, count in rows:
        if variant in per:
            per[variant][min(max(int(day or 0), 0), days - 1)] += int(count)
    return per


def _cumulative(values: list[int]) -> list[int]:
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out


def _estimate(e: stats.Estimate) -> dict:
    return {"value": e.value, "low": e.low, "high": e.high}


def compute(experiment: Experiment, *, now: dt.datetime | None = None) -> dict:
    """The results dict of `experiment` (module docstring) as of `now`."""
    now = now or timezone.now()
    alpha = experiment.alpha or 0.05
    variants = [v for v in experiment.variants or [] if isinstance(v, dict) and v.get("exit")]
    exits = [v["exit"] for v in variants]
    control = experiment.control or (exits[0] if exits else "")
    start = _start(experiment, now)
    counts = _counts(experiment, start, now)
    last_day = max([int(d or 0) for _, d, _ in counts["exposures"] + counts["conversions"]], default=0)
    days = max(1, min(last_day, math.floor((now - start).total_seconds() / DAY_S)) + 1)
    exposures_daily = _daily(counts["exposures"], exits, days)
    conversions_daily = _daily(counts["conversions"], exits, days)
    cum_n = {e: _cumulative(exposures_daily[e]) for e in exits}
    cum_c = {e: _cumulative(conversions_daily[e]) for e in exits}
    n = {e: cum_n[e][-1] for e in exits}
    c = {e: cum_c[e][-1] for e in exits}

    power = _power(experiment, variants, n, c, control, exposures_daily, now, start, alpha)
    tau2 = None
    if experiment.sequential:
        baseline = power["baseline_rate"]
        planned = power["required_per_arm"] or DEFAULT_PLANNED_SAMPLE
        if baseline and 0 < baseline < 1:
            tau2 = stats.sequential_mixture_variance(baseline, planned, alpha)
        else:  # nothing known yet: a 5 % rate, the mixture is then refitted when a baseline is set
            tau2 = stats.sequential_mixture_variance(0.05, planned, alpha)

    arms = []
    for v in variants:
        e = v["exit"]
        arm = {
            "exit": e,
            "name": v.get("name") or e,
            "weight": v.get("weight"),
            "control": e == control,
            "exposures": n[e],
            "conversions": c[e],
            "rate": _estimate(stats.proportion(c[e], n[e], alpha)),
            "lift": None,
            "p_value": None,
            "sequential": None,
            "p_adjusted": None,
            "significant": False,
            "chance_to_beat_control": None,
            "expected_loss": None,
            "expected_loss_control": None,
        }
        if e != control and control in n:
            _compare(arm, c[control], n[control], c[e], n[e], alpha)
            if tau2 is not None:
                looks = [
                    (cum_c[control][d], cum_n[control][d], cum_c[e][d], cum_n[e][d]) for d in range(days)
                ]
                s = stats.sequential_test(looks, tau2, alpha)
                arm["sequential"] = {"p_value": s.p_value, "low": s.low, "high": s.high}
        arms.append(arm)

    comparisons = [a for a in arms if not a["control"]]
    raw = [(a["sequential"] or {}).get("p_value") if tau2 is not None else a["p_value"] for a in comparisons]
    correction = experiment.correction if len(comparisons) > 1 else None
    known = [i for i, p in enumerate(raw) if p is not None]
    adjusted = list(raw)
    if known:
        fixed = [raw[i] for i in known]
        corrected = stats.CORRECTIONS[correction](fixed) if correction in stats.CORRECTIONS else fixed
        for i, p in zip(known, corrected, strict=True):
            adjusted[i] = p
    for arm, p in zip(comparisons, adjusted, strict=True):
        arm["p_adjusted"] = p
        arm["significant"] = p is not None and p < alpha

    _secondary(arms, counts, control, alpha)
    guardrails = _guardrails(experiment, arms, counts, control, alpha)
    srm = _srm(variants, n)
    leader = _leader(arms)
    result = {
        "version": VERSION,
        "computed_at": now.isoformat(),
        "method": {
            "alpha": alpha,
            "confidence": 1 - alpha,
            "sequential": experiment.sequential,
            "tau2": tau2,
            "correction": correction,
            "correction_label": CORRECTION_LABELS.get(correction) if correction else None,
            "test": "two-proportion z test (pooled), two-sided",
            "interval": "Wilson for rates; unpooled for the absolute lift; delta method for the relative lift",
            "bayes": "Beta-Binomial, uniform prior",
            "sequential_method": "mSPRT, normal mixture (Johari et al.)" if experiment.sequential else None,
        },
        "goal": {"event": experiment.goal_event, "window_days": experiment.goal_window_s / DAY_S},
        "control": control,
        "leader": leader,
        "started_at": experiment.started_at.isoformat() if experiment.started_at else None,
        "days_running": (now - experiment.started_at).total_seconds() / DAY_S
        if experiment.started_at
        else None,
        "arms": arms,
        "guardrails": guardrails,
        "srm": srm,
        "power": power,
        "series": _series(exits, start, days, exposures_daily, cum_n, cum_c, alpha),
    }
    result["warnings"] = _warnings(experiment, result)
    result["summary"] = _summary(result)
    return _json_safe(result)


def _compare(arm: dict, c_a: int, n_a: int, c_b: int, n_b: int, alpha: float) -> None:
    absolute = stats.absolute_lift(c_a, n_a, c_b, n_b, alpha)
    relative = stats.relative_lift(c_a, n_a, c_b, n_b, alpha)
    arm["lift"] = {
        "absolute": absolute.value,
        "absolute_low": absolute.low,
        "absolute_high": absolute.high,
        "relative": relative.value,
        "relative_low": relative.low,
        "relative_high": relative.high,
    }
    arm["p_value"] = stats.two_proportion_p_value(c_a, n_a, c_b, n_b)
    bayes = stats.bayesian(c_a, n_a, c_b, n_b)
    if bayes:
        arm["chance_to_beat_control"] = bayes.chance_to_beat_control
        arm["expected_loss"] = bayes.expected_loss_variant
        arm["expected_loss_control"] = bayes.expected_loss_control


def _secondary(arms: list[dict], counts: dict, control: str, alpha: float) -> None:
    """Reply rate, and with prices the cost: per contact from the (sampled) contacts' costs,
    scaled to the arm for the total and the cost per conversion."""
    priced, costs, sample = counts["priced"], counts["cost"], counts["cost_sample"]
    for arm in arms:
        replied = counts["flags"].get(arm["exit"], [0, 0, 0, 0])[3]
        n = arm["exposures"]
        sampled, total, _ = costs.get(arm["exit"], (0, 0.0, 0.0))
        per_contact = total / sampled if priced and sampled else None
        arm_cost = per_contact * n if per_contact is not None else None
        arm["secondary"] = {
            "reply_rate": {**_estimate(stats.proportion(replied, n, alpha)), "count": replied},
            "cost": arm_cost,
            "cost_per_conversion": arm_cost / arm["conversions"]
            if arm_cost is not None and arm["conversions"]
            else None,
            "cost_per_contact": per_contact,
            "cost_sample": f"1 in {sample}" if priced and sample > 1 else None,
            "cost_test": None,
        }
    if not priced or control not in costs:
        return
    base_n, base_total, base_squares = costs[control]
    base = stats.mean_and_variance(base_total, base_squares, base_n)
    for arm in arms:
        if arm["control"] or arm["exit"] not in costs:
            continue
        n, total, squares = costs[arm["exit"]]
        other = stats.mean_and_variance(total, squares, n)
        if not base or not other:
            continue
        welch = stats.welch_t_test(base[0], base[1], base_n, other[0], other[1], n, alpha)
        if welch:
            arm["secondary"]["cost_test"] = {
                "difference": welch.difference,
                "low": welch.low,
                "high": welch.high,
                "p_value": welch.p_value,
            }


def _guardrails(
    experiment: Experiment, arms: list[dict], counts: dict, control: str, alpha: float
) -> list[dict]:
    configured = experiment.guardrails or {}
    per_metric = {
        "opt_out_rate": {e: row[0] for e, row in counts["flags"].items()},
        "delivery_failure_rate": {e: row[1] for e, row in counts["flags"].items()},
        "complaint_replies": {e: row[2] for e, row in counts["flags"].items()},
    }
    exposures = {a["exit"]: a["exposures"] for a in arms}
    out = []
    for metric, label in GUARDRAIL_LABELS.items():
        setting = configured.get(metric)
        watched = metric in configured
        threshold = setting.get("threshold") if isinstance(setting, dict) else setting
        threshold = float(threshold) if _is_number(threshold) else (0.0 if watched else None)
        hits = per_metric[metric]
        c_a, n_a = hits.get(control, 0), exposures.get(control, 0)
        for arm in arms:
            if arm["control"]:
                continue
            c_b, n_b = hits.get(arm["exit"], 0), arm["exposures"]
            diff = stats.absolute_lift(c_a, n_a, c_b, n_b, alpha)
            status = "ok"
            if watched and diff.value is not None and diff.value > threshold:
                status = "breached" if diff.low > 0 else "watch"
            out.append(
                {
                    "metric": metric,
                    "label": label,
                    "exit": arm["exit"],
                    "watched": watched,
                    "threshold": threshold,
                    "count": c_b,
                    "rate": c_b / n_b if n_b else None,
                    "control_count": c_a,
                    "control_rate": c_a / n_a if n_a else None,
                    "difference": diff.value,
                    "low": diff.low,
                    "high": diff.high,
                    "status": status,
                    "breached": status == "breached",
                }
            )
    return out


def _srm(variants: list[dict], n: dict) -> dict | None:
    weights = [float(v.get("weight") or 0) for v in variants]
    observed = [n[v["exit"]] for v in variants]
    if len(variants) < 2 or any(w <= 0 for w in weights):
        return None
    result = stats.sample_ratio_mismatch(observed, weights)
    total = sum(observed)
    return {
        "observed": observed,
        "expected": [total * w / sum(weights) for w in weights],
        "chi2": result.chi2 if result else None,
        "p_value": result.p_value if result else None,
        "mismatch": bool(result and result.mismatch),
        "checked": result is not None,
    }


def _power(experiment, variants, n, c, control, exposures_daily, now, start, alpha) -> dict:
    baseline, source = experiment.baseline_rate, "planned"
    if not (baseline and 0 < baseline < 1):
        baseline, source = (
            (c[control] / n[control], "observed") if n.get(control) and c.get(control) else (None, None)
        )
    if baseline is not None and not 0 < baseline < 1:
        baseline, source = None, None
    mde, power = experiment.mde, experiment.power
    required = None
    if baseline and mde and mde > 0 and 0 < power < 1 and baseline * (1 + mde) < 1:
        required = stats.required_sample_per_arm(baseline, mde, alpha, power)
    smallest = min(n.values()) if n else 0
    recent_days = exposures_daily and len(next(iter(exposures_daily.values()))) or 0
    span = min(ENTRY_RATE_DAYS, recent_days)
    elapsed_days = max((now - start).total_seconds() / DAY_S, 1 / 24)
    recent = sum(sum(per[-span:]) for per in exposures_daily.values()) if span else 0
    entries_per_day = recent / min(span, elapsed_days) if span else 0.0
    weights = [float(v.get("weight") or 0) for v in variants]
    expected_days = remaining = None
    if required and entries_per_day > 0 and all(w > 0 for w in weights):
        expected_days = stats.expected_duration_days(required, weights, entries_per_day)
        missing = max(
            (required - n[v["exit"]]) / (entries_per_day * w / sum(weights))
            for v, w in zip(variants, weights, strict=True)
        )
        remaining = max(0.0, missing)
    power_now = None
    if baseline and mde and mde > 0 and baseline * (1 + mde) < 1 and smallest:
        power_now = stats.power_at(baseline, mde, smallest, alpha)
    return {
        "baseline_rate": baseline,
        "baseline_source": source,
        "mde": mde,
        "power": power,
        "required_per_arm": required,
        "smallest_arm": smallest,
        "progress": smallest / required if required else None,
        "entries_per_day": entries_per_day,
        "expected_days": expected_days,
        "days_remaining": remaining,
        "power_now": power_now,
    }


def _series(exits, start, days, exposures_daily, cum_n, cum_c, alpha) -> dict:
    arms = {}
    for e in exits:
        intervals = [stats.proportion(cc, nn, alpha) for cc, nn in zip(cum_c[e], cum_n[e], strict=True)]
        arms[e] = {
            "exposures": exposures_daily[e],
            "cumulative_exposures": cum_n[e],
            "cumulative_conversions": cum_c[e],
            "rate": [i.value for i in intervals],
            "low": [i.low for i in intervals],
            "high": [i.high for i in intervals],
        }
    dates = [(start + dt.timedelta(days=d)).date().isoformat() for d in range(days)]
    return {"days": list(range(days)), "dates": dates, "arms": arms}


def _leader(arms: list[dict]) -> str | None:
    candidates = [a for a in arms if not a["control"] and a["rate"]["value"] is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda a: (a["rate"]["value"], a["exposures"]))["exit"]


# --- words --------------------------------------------------------------------------------------


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    value = x * 100
    digits = 0 if signed and abs(value) >= 10 else 1
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return f"{text} %"


def _whole(x: float) -> str:
    return f"{x * 100:.0f} %"


def _points(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:+.1f} points"


def _warnings(experiment: Experiment, r: dict) -> list[dict]:
    out = []
    power, srm = r["power"], r["srm"]
    if not experiment.goal_event:
        out.append({"code": "no_goal", "text": "No goal event is set: conversions cannot be counted."})
    if srm and srm["mismatch"]:
        observed = ", ".join(f"{a['name']} {a['exposures']:,}" for a in r["arms"])
        out.append(
            {
                "code": "srm",
                "text": f"Sample-ratio mismatch: the traffic split ({observed}) does not match the planned "
                f"weights (chi-square p = {srm['p_value']:.2g}). Something is losing or adding contacts "
                "in some arm: do not trust these results until the cause is found.",
            }
        )
    if power["required_per_arm"] is None and experiment.goal_event:
        out.append(
            {
                "code": "no_baseline",
                "text": "No sample size yet: set the expected conversion rate of the control, or wait for "
                "the control's first conversions.",
            }
        )
    elif power["required_per_arm"] and power["smallest_arm"] < power["required_per_arm"]:
        out.append(
            {
                "code": "underpowered",
                "text": f"Underpowered: each arm needs {power['required_per_arm']:,} contacts to detect a "
                f"{_pct(power['mde'], signed=True)} change with {_whole(power['power'])} power; the smallest "
                f"arm has {power['smallest_arm']:,} ({_whole(power['progress'])}). A difference now may be "
                "noise, and a real one may not show yet.",
            }
        )
        if not experiment.sequential and r["arms"] and any(a["exposures"] for a in r["arms"]):
            out.append(
                {
                    "code": "peeking",
                    "text": "Peeking: these p-values are only valid at the planned sample size. Reading them "
                    "every day and stopping when one looks good makes false winners far more likely "
                    "(about 1 in 3 instead of 1 in 20 when checked daily for a month). Wait for the planned "
                    "sample, or switch on the sequential mode, whose intervals stay valid at every look.",
                }
            )
    breached = [g for g in r["guardrails"] if g["breached"]]
    for g in breached:
        name = next((a["name"] for a in r["arms"] if a["exit"] == g["exit"]), g["exit"])
        out.append(
            {
                "code": "guardrail",
                "text": f"Guardrail breached: {g['label'].lower()} of {name} is {_pct(g['rate'])} against "
                f"{_pct(g['control_rate'])} for the control ({_points(g['difference'])}, above the "
                f"{_points(g['threshold']).lstrip('+')} allowed).",
            }
        )
    return out


def _summary(r: dict) -> str:
    arms = r["arms"]
    total = sum(a["exposures"] for a in arms)
    if not total:
        return "No contact has reached the split yet."
    control = next((a for a in arms if a["control"]), None)
    leader = next((a for a in arms if a["exit"] == r["leader"]), None)
    if not control or not control["exposures"] or not leader or not leader["exposures"]:
        return f"{total:,} contacts exposed so far; waiting for contacts in every arm."
    confidence = _whole(r["method"]["confidence"])
    lift = leader["lift"] or {}
    rate = (
        f"{leader['name']} converts {_pct(leader['rate']['value'])} against {_pct(control['rate']['value'])}"
    )
    if r["method"]["sequential"] and leader["sequential"]:
        s = leader["sequential"]
        detail = (
            f"{_points(lift.get('absolute'))}, {confidence} always-valid interval "
            f"{_points(s['low'])} to {_points(s['high'])}"
            if s["low"] is not None
            else f"{_points(lift.get('absolute'))}"
        )
    elif lift.get("relative") is not None:
        detail = (
            f"{_pct(lift['relative'], signed=True)}, {confidence} interval "
            f"{_pct(lift['relative_low'], signed=True)} to {_pct(lift['relative_high'], signed=True)}"
        )
    else:
        detail = (
            f"{_points(lift.get('absolute'))}, {confidence} interval "
            f"{_points(lift.get('absolute_low'))} to {_points(lift.get('absolute_high'))}"
        )
    parts = [f"{rate} ({detail})"]
    p = leader["p_adjusted"]
    if p is not None:
        corrected = (
            f" after {r['method']['correction_label'].split(' (')[0]} correction"
            if r["method"]["correction"]
            else ""
        )
        verdict = "significant" if leader["significant"] else "not significant"
        parts.append(f"{verdict}{corrected} (p = {p:.2g})")
    if leader["chance_to_beat_control"] is not None:
        parts.append(f"chance to beat control {_chance(leader['chance_to_beat_control'])}")
    srm = r["srm"]
    if srm is None or not srm["checked"]:
        parts.append("too few contacts yet to check the traffic split")
    elif srm["mismatch"]:
        parts.append("traffic split does NOT match the weights (sample-ratio mismatch)")
    else:
        parts.append("traffic split as planned")
    breached = sorted({g["label"].lower() for g in r["guardrails"] if g["breached"]})
    if breached:
        parts.append(f"guardrail breached: {', '.join(breached)}")
    return "; ".join(parts) + "."


def _chance(x: float) -> str:
    # never print 100 % or 0 %: the model is never certain
    value = min(max(x * 100, 0.1), 99.9)
    return f"{value:.1f} %"


def _json_safe(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# --- the cache ----------------------------------------------------------------------------------


def refresh(experiment: Experiment, *, now: dt.datetime | None = None) -> dict:
    """Compute the results and store them on the experiment (`results`, `results_computed_at`):
    what the pages, the API and the decisions read. Safe to run twice (it only overwrites)."""
    now = now or timezone.now()
    results = compute(experiment, now=now)
    Experiment.objects.filter(pk=experiment.pk).update(results=results, results_computed_at=now)
    experiment.results, experiment.results_computed_at = results, now
    return results


def refresh_task(experiment_id: int) -> bool:
    """Worker entry point of an on-demand refresh (an id, never an instance): False when the
    experiment is gone."""
    experiment = Experiment.objects.filter(pk=experiment_id).first()
    if experiment is None:
        return False
    refresh(experiment)
    return True


def refresh_later(experiment: Experiment) -> None:
    """Ask the worker to recompute `experiment`'s results once the caller's transaction commits
    (the "Refresh" button): the page shows the cached numbers meanwhile."""
    experiment_id = experiment.pk
    transaction.on_commit(lambda: async_task("experiments.results.refresh_task", experiment_id))


def refresh_running(now: dt.datetime | None = None) -> int:
    """The schedule's task (migration `results_schedule`, every 10 minutes): refresh every running
    experiment, and once more each one that ended since its last refresh, so its final numbers
    are kept. One experiment's failure is logged and the others go on. Returns how many."""
    now = now or timezone.now()
    due = Experiment.objects.filter(
        Q(status=Experiment.Status.RUNNING)
        | Q(ended_at__isnull=False, results_computed_at__isnull=True)
        | Q(ended_at__isnull=False, results_computed_at__lt=F("ended_at"))
    )
    done = 0
    for experiment in due.order_by("pk"):
        try:
            refresh(experiment, now=now)
        except DatabaseError:
            raise  # the worker's own handling: the database is gone for everyone
        except Exception:
            log.exception("experiment %s: results not refreshed", experiment.pk)
            continue
        done += 1
    return done
