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
        baseline = control.get("rate") if control else None
    if not baseline or not experiment.mde:
        return None
    try:
        return stats.required_sample_per_arm(baseline, experiment.mde, experiment.alpha, experiment.power)
    except ValueError:
        return None


def _arm_results(experiment: Experiment) -> list[dict]:
    return (experiment.results or {}).get("arms") or []


def leader(results: dict) -> str:
    """The arm with the highest chance to beat control, when one beats it more often than not."""
    best = None
    for a in results.get("arms") or []:
        chance = a.get("chance_to_beat_control")
        if not a.get("control") and chance is not None and (best is None or chance > best[1]):
            best = (a["name"], chance)
    if best and best[1] > 0.5:
        return best[0]
    control = next((a for a in results.get("arms") or [] if a.get("control")), None)
    return control["name"] if control and best else ""


def list_row(experiment: Experiment, *, journey_name: str, now: dt.datetime) -> dict:
    results = experiment.results or {}
    arms = _arm_results(experiment)
    top = leader(results)
    chance = next(
        (a.get("chance_to_beat_control") for a in arms if a["name"] == top and not a.get("control")), None
    )
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
        "chance": f"{100 * chance:.1f}" if chance is not None else None,
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
    }


def arms(results: dict, experiment: Experiment) -> list[dict]:
    rows = []
    for a in results.get("arms") or []:
        lift_abs = a.get("absolute_lift") or {}
        lift_rel = a.get("relative_lift") or {}
        rows.append({
            "name": a["name"],
            "label": variant_label(experiment, a["name"]),
            "control": bool(a.get("control")),
            "exposures": a.get("exposures", 0),
            "conversions": a.get("conversions", 0),
            "rate": pct(a.get("rate"), digits=2),
            "interval": interval(a.get("interval"), digits=2),
            "lift_abs": pct(lift_abs.get("value"), signed=True, digits=2),
            "lift_abs_interval": interval(lift_abs.get("interval"), signed=True, digits=2),
            "lift_rel": pct(lift_rel.get("value"), signed=True),
            "lift_rel_interval": interval(lift_rel.get("interval"), signed=True),
            "p_value": p_text(a.get("p_value_adjusted", a.get("p_value"))),
            "chance": pct(a.get("chance_to_beat_control")),
            "loss": pct(a.get("expected_loss"), digits=3),
        })  # fmt: skip
    return rows


def rate_row(r: dict) -> dict:
    return {**r, "rate": pct(r.get("rate"), digits=2), "interval": interval(r.get("interval"), digits=2)}


def guardrail_row(g: dict) -> dict:
    return {**g, "cells": [pct(a.get("rate"), digits=2) if a else "—" for a in g["arms"]]}


def decision(d: Decision) -> dict:
    numbers = ""
    arms_ = (d.numbers or {}).get("arms") or []
    if arms_:
        numbers = "; ".join(
            f"{a['name']}: {a.get('conversions', 0)}/{a.get('exposures', 0)} ({pct(a.get('rate'), digits=2)})"
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
        "days": days,
        "min_runtime_rules": days is not None and days == int(experiment.min_runtime_s / 86400) and days > 0,
    }
