"""Numbers in words for the experiment pages: the list's rows, the page's header, the arms table
and the decisions, from an Experiment and its cached results (`results.compute`). Formatting
only; every number comes from the statistics module."""

from __future__ import annotations

import datetime as dt
import math

from . import journey_facts, stats
from .models import Decision, Experiment

RATE_DAYS = 7  # the entry rate is the average of the last week
STATUS_CLASS = {"draft": "", "running": "ok", "stopped": "warn", "decided": "ok"}


def pct(x, *, signed: bool = False, digits: int = 1) -> str:
    """0.041 -> "4.1 %" (signed: "+4.1 %")."""
    if x is None:
        return "—"
    return f"{100 * x:{'+' if signed else ''}.{digits}f} %"


def interval(iv, *, signed: bool = False, digits: int = 1) -> str:
    if not iv or iv[0] is None or iv[1] is None:
        return ""
    return f"{pct(iv[0], signed=signed, digits=digits)} to {pct(iv[1], signed=signed, digits=digits)}"


def p_text(p) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def days_running(experiment: Experiment, now: dt.datetime) -> int | None:
    if not experiment.started_at:
        return None
    end = experiment.ended_at or now
    return max(0, (end - experiment.started_at).days)


def variant_label(experiment: Experiment, exit_: str) -> str:
    for v in experiment.variants:
        if v["exit"] == exit_:
            return v.get("name") or exit_
    return exit_


def required_per_arm(experiment: Experiment) -> int | None:
    """The planned sample per arm: from the expected control rate, or, once there are results, the
    control's observed rate; None when neither is known or the plan is impossible."""
    baseline = experiment.baseline_rate
    if not baseline:
        control = next((a for a in (experiment.results or {}).get("arms") or [] if a.get("control")), None)
        baseline = (control.get("rate") or {}).get("value") if control else None
    if not baseline or not experiment.mde:
        return None
    try:
        return stats.required_sample_per_arm(baseline, experiment.mde, experiment.alpha, experiment.power)
    except ValueError:
        return None


def leader(results: dict) -> tuple[str, float | None]:
    """(the arm ahead, its chance to be the better of it and its rival): the variant most likely
    to beat control when that is more likely than not, else the control (with its chance to beat
    that strongest variant)."""
    variants = [
        a
        for a in results.get("arms") or []
        if not a.get("control") and a.get("chance_to_beat_control") is not None
    ]
    if not variants:
        return "", None
    best = max(variants, key=lambda a: a["chance_to_beat_control"])
    if best["chance_to_beat_control"] > 0.5:
        return best["exit"], best["chance_to_beat_control"]
    return results.get("control") or "", 1 - best["chance_to_beat_control"]


def list_row(experiment: Experiment, *, journey_name: str, now: dt.datetime) -> dict:
    top, top_chance = leader(experiment.results or {})
    required = required_per_arm(experiment)
    exposures = [a.exposures for a in experiment.arms.all()]
    smallest = min(exposures) if exposures else 0
    return {
        "pk": experiment.pk,
        "name": experiment.name,
        "hypothesis": experiment.hypothesis,
        "journey_name": journey_name,
        "node": experiment.node,
        "status": experiment.status,
        "status_label": experiment.get_status_display(),
        "status_class": STATUS_CLASS.get(experiment.status, ""),
        "winner": variant_label(experiment, experiment.winner) if experiment.winner else "",
        "arms": [v.get("name") or v["exit"] for v in experiment.variants],
        "leader": variant_label(experiment, top) if top else "",
        "chance": chance(top_chance) if top_chance is not None else None,
        "days": days_running(experiment, now),
        "required": required,
        "smallest_arm": smallest,
        "progress": min(100, round(100 * smallest / required)) if required else 0,
    }


def header(experiment: Experiment, *, journey_name: str, now: dt.datetime, editor_url: str) -> dict:
    S = Experiment.Status
    return {
        "pk": experiment.pk,
        "name": experiment.name,
        "node": experiment.node,
        "journey_name": journey_name,
        "editor_url": f"{editor_url}#node={experiment.node}",
        "status": experiment.status,
        "status_label": experiment.get_status_display(),
        "status_class": STATUS_CLASS.get(experiment.status, ""),
        "winner": experiment.winner,
        "days": days_running(experiment, now),
        "can_stop": experiment.status in (S.RUNNING, S.DRAFT),
        "can_decide": experiment.status == S.RUNNING,
        # the design is fixed once the test runs (changing the goal after seeing results is
        # how tests lie); a test published before its goal was set may still get one
        "editable": experiment.status == S.DRAFT
        or (experiment.status == S.RUNNING and not experiment.goal_event),
        # the arms are the split's: a running experiment's change only by publishing the journey
        "variants_editable": experiment.status == S.DRAFT,
    }


def arms(results: dict, experiment: Experiment) -> list[dict]:
    """The arms table: rate with its interval, lifts against control with their intervals (in the
    sequential mode the absolute lift's interval is the always-valid one, and the fixed-horizon
    interval of the relative lift is not shown: it is only valid at the planned sample), the
    p-value that decides (after the correction), the chance to beat control and expected loss."""
    sequential = bool((results.get("method") or {}).get("sequential"))
    rows = []
    for a in results.get("arms") or []:
        rate = a.get("rate") or {}
        lift = a.get("lift") or {}
        seq = a.get("sequential") or {}
        if sequential:
            abs_iv, rel_iv = [seq.get("low"), seq.get("high")], None
        else:
            abs_iv = [lift.get("absolute_low"), lift.get("absolute_high")]
            rel_iv = [lift.get("relative_low"), lift.get("relative_high")]
        rows.append({
            "name": a["exit"],
            "label": a.get("name") or variant_label(experiment, a["exit"]),
            "control": bool(a.get("control")),
            "exposures": a.get("exposures", 0),
            "conversions": a.get("conversions", 0),
            "rate": pct(rate.get("value"), digits=2),
            "interval": interval([rate.get("low"), rate.get("high")], digits=2),
            "lift_abs": points(lift.get("absolute")),
            "lift_abs_interval": interval_points(abs_iv),
            "lift_rel": pct(lift.get("relative"), signed=True),
            "lift_rel_interval": interval(rel_iv, signed=True) if rel_iv else "",
            "p_value": p_text(a.get("p_adjusted")),
            "significant": bool(a.get("significant")),
            "chance": chance(a.get("chance_to_beat_control")),
            "loss": pct(a.get("expected_loss"), digits=3) if a.get("expected_loss") is not None else "—",
        })  # fmt: skip
    return rows


def chance(x) -> str:
    """A probability from the model, never printed as certain (as the summary says it)."""
    if x is None:
        return "—"
    if x > 0.999:
        return "> 99.9 %"
    if x < 0.001:
        return "< 0.1 %"
    return pct(x)


def points(x) -> str:
    """0.0086 -> "+0.86 points" (a difference of two rates)."""
    return "—" if x is None else f"{100 * x:+.2f} points"


def interval_points(iv) -> str:
    if not iv or iv[0] is None or iv[1] is None:
        return ""
    return f"{100 * iv[0]:+.2f} to {100 * iv[1]:+.2f} points"


def rate_row(r: dict) -> dict:
    return {**r, "rate": pct(r.get("rate"), digits=2), "interval": interval(r.get("interval"), digits=2)}


def guardrail_row(g: dict) -> dict:
    differences = "; ".join(f"{name} {points(d)} ({interval_points([low, high])})"
                            for name, d, low, high in g["differences"] if d is not None)  # fmt: skip
    limit = f"limit {points(g['threshold']).lstrip('+')} above control" if g["watched"] else "not watched"
    return {
        **g,
        "cells": [pct(r, digits=2) for r in g["rates"]],
        "message": f"{differences} — {limit}".strip(" —"),
    }


def decision(d: Decision) -> dict:
    numbers = ""
    arms_ = (d.numbers or {}).get("arms") or []
    if arms_:
        numbers = "; ".join(
            f"{a.get('name') or a['exit']}: {a.get('conversions', 0)}/{a.get('exposures', 0)} "
            f"({pct((a.get('rate') or {}).get('value'), digits=2)})"
            for a in arms_
        )
    label = d.get_kind_display()
    if d.kind == Decision.Kind.WINNER:
        label = f"Winner: {variant_label(d.experiment, d.winner)}"
    if d.automatic:
        label += " (automatic)"
    return {"label": label, "at": d.created_at, "actor": d.actor_label, "note": d.reason, "numbers": numbers}


def plan(experiment: Experiment, *, now: dt.datetime) -> dict:
    """The sample each arm needs (from the baseline, MDE, power and the significance level) and
    how long that takes at the rate contacts reached the split over the last week."""
    per_arm = required_per_arm(experiment)
    if not per_arm:
        return {}
    entries = journey_facts.entries_since(workspace=experiment.workspace, journey_id=experiment.journey_id,
                                          node=experiment.node, since=now - dt.timedelta(days=RATE_DAYS))  # fmt: skip
    basis = "reach the split"
    if not entries:  # the split is not live yet: plan with the journey's own entries
        entries = journey_facts.enrolments_since(workspace=experiment.workspace, journey_id=experiment.journey_id,
                                                 since=now - dt.timedelta(days=RATE_DAYS))  # fmt: skip
        basis = "enter the journey (the split is not live yet)"
    rate = entries / RATE_DAYS
    total = per_arm * len(experiment.variants)
    weights = [v.get("weight", 0) for v in experiment.variants]
    days = None
    if rate > 0 and weights and all(w > 0 for w in weights):
        # the arm with the smallest share takes longest; never shorter than the minimum runtime
        days = max(stats.expected_duration_days(per_arm, weights, rate), experiment.min_runtime_s / 86400)
        days = math.ceil(days)
    return {
        "per_arm": per_arm,
        "total": total,
        "baseline": pct(experiment.baseline_rate),
        "mde": pct(experiment.mde, signed=False),
        "power": pct(experiment.power),
        "rate": f"{rate:.1f}" if rate else "",
        "rate_days": RATE_DAYS,
        "rate_basis": basis,
        "days": days,
        "min_runtime_rules": days is not None and days == int(experiment.min_runtime_s / 86400) and days > 0,
    }
