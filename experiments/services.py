"""Writes on experiments: keeping one Experiment per split node in step with the journey's graph
(`experiment_sync`, called when a journey is saved or published), editing its settings,
declaring a winner or stopping it (by hand or by the automatic rules, `decisions.py`), each
audited with the numbers it was made on. Assignment itself is `assignment.py`."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cpaas.audit import audit_record
from cpaas.locks import lock_refresh
from cpaas.tenancy import Actor

from .models import (
    GUARDRAIL_METRICS,
    SECONDARY_METRICS,
    Decision,
    Experiment,
    ExperimentArm,
    variants_problems,
)

S = Experiment.Status


def variants_from_config(config: dict) -> list[dict]:
    """The node config's variants as the experiment keeps them: a name (the exit when none) and
    exactly one control (the first variant when none is marked)."""
    raw = config.get("variants") if isinstance(config, dict) else None
    variants = [v for v in raw if isinstance(v, dict) and isinstance(v.get("exit"), str) and v["exit"]] if isinstance(
        raw, list) else []  # fmt: skip
    marked = [v for v in variants if v.get("control")]
    control = marked[0]["exit"] if marked else (variants[0]["exit"] if variants else "")
    return [
        {
            "exit": v["exit"],
            "name": str(v.get("name") or v["exit"])[:60],
            "weight": v["weight"]
            if isinstance(v.get("weight"), int) and not isinstance(v["weight"], bool)
            else 0,
            "control": v["exit"] == control,
        }
        for v in variants
    ]


def _arms_ensure(experiment: Experiment) -> None:
    have = set(experiment.arms.values_list("exit", flat=True))
    ExperimentArm.objects.bulk_create(
        [ExperimentArm(experiment=experiment, exit=e) for e in experiment.exits if e not in have],
        ignore_conflicts=True,
    )


@transaction.atomic
def experiment_sync(
    *,
    workspace,
    journey_id: int,
    journey_name: str,
    nodes: dict[str, dict],
    published: bool,
    actor: Actor,
    now: dt.datetime | None = None,
) -> list[Experiment]:
    """One Experiment per split node of a journey's graph. `nodes`: {node id: {"config": ...,
    "channel": ..., "purpose": ...}} (the arms' channel and purpose, as journeys infers them).

    Saving a draft (`published=False`) creates the experiments of new nodes and keeps draft ones
    in step with the config. Publishing also copies the published variants into the experiment,
    starts draft ones (running from now) and stops the running ones whose node is gone. A
    running experiment's arms change only by publishing: what the engine splits on is the live
    version's."""
    now = now or timezone.now()
    found = {e.node: e for e in Experiment.objects.select_for_update().filter(journey_id=journey_id)}
    out = []
    for node_id, spec in sorted(nodes.items()):
        config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
        experiment = found.get(node_id)
        if experiment is None:
            experiment = Experiment(workspace=workspace, journey_id=journey_id, node=node_id)
        elif experiment.workspace_id != workspace.pk:  # never: journeys do not move
            raise ValidationError({"journey": ["This journey's experiments belong to another workspace."]})
        editable = experiment.pk is None or experiment.status == S.DRAFT or published
        if editable and experiment.status in (S.DRAFT, S.RUNNING):
            experiment.variants = variants_from_config(config)
            name = config.get("experiment") if isinstance(config.get("experiment"), str) else ""
            experiment.name = (name or experiment.name or f"{journey_name} · {node_id}")[:120]
            experiment.channel = str(spec.get("channel") or "")[:20]
            experiment.purpose = str(spec.get("purpose") or "")[:32]
        if published and experiment.status == S.DRAFT and not variants_problems(experiment.variants):
            experiment.status, experiment.started_at = S.RUNNING, now
        created = experiment.pk is None
        experiment.save()
        _arms_ensure(experiment)
        if created or (published and experiment.started_at == now):
            audit_record(workspace=workspace, actor=actor, target=experiment, at=now,
                         action="experiments.experiment.started" if experiment.status == S.RUNNING
                         else "experiments.experiment.created",
                         data={"journey_id": journey_id, "node": node_id, "variants": experiment.variants})  # fmt: skip
        out.append(experiment)
    if published:
        for node_id, experiment in found.items():
            if node_id not in nodes and experiment.status == S.RUNNING:
                _end(experiment, actor, Decision.Kind.STOP, now, reason="its node left the published journey")
    return out


def experiment_for_node(
    *, workspace, journey_id: int, node: str, config: dict, live: bool, now: dt.datetime
) -> Experiment:
    """The node's experiment, made on the spot for a graph published before experiments were
    kept (the engine asks for it; normally `experiment_sync` made it at publish)."""
    experiment = Experiment.objects.filter(journey_id=journey_id, node=node).first()
    if experiment is not None:
        return experiment
    with transaction.atomic():
        experiment, _ = Experiment.objects.get_or_create(
            journey_id=journey_id,
            node=node,
            defaults={
                "workspace": workspace,
                "name": str(config.get("experiment") or node)[:120],
                "variants": variants_from_config(config),
                "status": S.RUNNING if live else S.DRAFT,
                "started_at": now if live else None,
            },
        )
        _arms_ensure(experiment)
    return experiment


# --- settings -----------------------------------------------------------------------------------

EDITABLE = ("name", "hypothesis", "goal_event", "goal_window_s", "guardrails", "secondary_metrics", "prices",
            "baseline_rate", "mde", "power", "alpha", "min_runtime_s", "sequential", "correction",
            "decision_rule", "auto_stop_on_guardrail")  # fmt: skip
RANGES = {
    "mde": (0.001, 10.0),
    "power": (0.5, 0.999),
    "alpha": (0.0001, 0.5),
    "baseline_rate": (0.0001, 0.9999),
}


@transaction.atomic
def experiment_update(*, experiment: Experiment, actor: Actor, data: dict) -> Experiment:
    """Change an experiment's settings (not its arms: those are the split node's, edited in the
    journey). Every problem is reported at once, next to its field; nothing is half-written."""
    experiment = lock_refresh(experiment)
    unknown = sorted(set(data) - set(EDITABLE))
    errors: dict[str, list[str]] = {}
    if unknown:
        errors[unknown[0]] = [f"Not an editable setting (editable: {', '.join(EDITABLE)})."]
    before = {k: getattr(experiment, k) for k in EDITABLE}
    for key, value in data.items():
        if key in unknown:
            continue
        problem = _setting_problem(key, value)
        if problem:
            errors[key] = [problem]
        else:
            setattr(experiment, key, value)
    if errors:
        raise ValidationError(errors)
    experiment.save()
    changed = {k: getattr(experiment, k) for k in EDITABLE if getattr(experiment, k) != before[k]}
    audit_record(workspace=experiment.workspace, actor=actor, action="experiments.experiment.updated",
                 target=experiment, data=changed)  # fmt: skip
    return experiment


def _setting_problem(key: str, value) -> str:
    if key in ("name",):
        return (
            ""
            if isinstance(value, str) and 0 < len(value.strip()) <= 120
            else "A name of 1 to 120 characters."
        )
    if key in ("hypothesis",):
        return "" if isinstance(value, str) and len(value) <= 2000 else "Text of at most 2,000 characters."
    if key == "goal_event":
        ok = (
            isinstance(value, str) and len(value) <= 100 and all(ch.isalnum() or ch in "_.:-" for ch in value)
        )
        return "" if ok else "An event name such as payment_completed (letters, digits, _ . : -)."
    if key in ("goal_window_s", "min_runtime_s"):
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 366 * 86400
        return "" if ok else "Seconds from 0 to 31,622,400 (366 days)."
    if key in RANGES:
        low, high = RANGES[key]
        if key == "baseline_rate" and value is None:
            return ""
        ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
        return "" if ok else f"A number from {low:g} to {high:g}."
    if key in ("sequential", "auto_stop_on_guardrail"):
        return "" if isinstance(value, bool) else "true or false."
    if key == "correction":
        return "" if value in Experiment.Correction.values else "holm or bh."
    if key == "decision_rule":
        return "" if value in Experiment.Rule.values else "manual or auto."
    if key == "guardrails":
        if not isinstance(value, dict):
            return 'An object such as {"opt_out_rate": {"threshold": 0.01}}.'
        for metric, spec in value.items():
            if metric not in GUARDRAIL_METRICS:
                return f"Unknown guardrail '{metric}' (one of {', '.join(GUARDRAIL_METRICS)})."
            threshold = spec.get("threshold") if isinstance(spec, dict) else None
            if (
                not isinstance(threshold, int | float)
                or isinstance(threshold, bool)
                or not 0 <= threshold <= 1
            ):
                return f"{metric}: a threshold from 0 to 1 (the largest acceptable rise over control)."
        return ""
    if key == "secondary_metrics":
        ok = isinstance(value, list) and all(m in SECONDARY_METRICS for m in value)
        return "" if ok else f"A list of: {', '.join(SECONDARY_METRICS)}."
    if key == "prices":
        ok = isinstance(value, dict) and all(
            isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 100 for p in value.values()
        )
        return "" if ok else 'Prices per message segment by channel kind, e.g. {"sms": 0.04}.'
    return ""


# --- decisions ----------------------------------------------------------------------------------


@transaction.atomic
def experiment_declare_winner(
    *,
    experiment: Experiment,
    winner: str,
    actor: Actor,
    numbers: dict | None = None,
    automatic: bool = False,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Decision:
    """From now on new contacts take the winner's exit (no republishing); contacts already
    assigned keep their arm. Audited with the numbers it was made on (the cached results when
    none are given)."""
    now = now or timezone.now()
    experiment = lock_refresh(experiment)
    if experiment.status != S.RUNNING:
        raise ValidationError(
            {
                "status": [
                    f"Only a running experiment can get a winner; this one is {experiment.get_status_display().lower()}."
                ]
            }
        )
    if winner not in experiment.exits:
        raise ValidationError(
            {"winner": [f"'{winner}' is not one of the variants ({', '.join(experiment.exits)})."]}
        )
    experiment.status, experiment.winner, experiment.ended_at = S.DECIDED, winner, now
    experiment.save(update_fields=["status", "winner", "ended_at", "updated_at"])
    return _decision(experiment, actor, Decision.Kind.WINNER, now, winner=winner, numbers=numbers,
                     automatic=automatic, reason=reason)  # fmt: skip


@transaction.atomic
def experiment_stop(
    *,
    experiment: Experiment,
    actor: Actor,
    reason: str = "",
    guardrail: bool = False,
    numbers: dict | None = None,
    automatic: bool = False,
    now: dt.datetime | None = None,
) -> Decision:
    """Stop without a winner: from now on new contacts take the control's exit."""
    now = now or timezone.now()
    experiment = lock_refresh(experiment)
    if experiment.status not in (S.RUNNING, S.DRAFT):
        raise ValidationError(
            {"status": [f"This experiment is already {experiment.get_status_display().lower()}."]}
        )
    kind = Decision.Kind.GUARDRAIL_STOP if guardrail else Decision.Kind.STOP
    return _end(experiment, actor, kind, now, reason=reason, numbers=numbers, automatic=automatic)


def _end(experiment, actor, kind, now, *, reason="", numbers=None, automatic=False) -> Decision:
    experiment.status, experiment.ended_at = S.STOPPED, now
    experiment.save(update_fields=["status", "ended_at", "updated_at"])
    return _decision(experiment, actor, kind, now, numbers=numbers, automatic=automatic, reason=reason)


def _decision(
    experiment, actor, kind, now, *, winner="", numbers=None, automatic=False, reason=""
) -> Decision:
    numbers = experiment.results if numbers is None else numbers
    decision = Decision.objects.create(
        workspace_id=experiment.workspace_id, experiment=experiment, kind=kind, winner=winner, automatic=automatic,
        actor_label=actor.label[:150], actor_user=actor.user if actor.kind == "user" else None,
        reason=reason[:500], numbers=numbers or {}, created_at=now,
    )  # fmt: skip
    audit_record(workspace=experiment.workspace, actor=actor, action=f"experiments.experiment.{kind}",
                 target=experiment, at=now,
                 data={"decision": decision.pk, "winner": winner, "automatic": automatic, "reason": reason[:500],
                       "numbers": numbers or {}})  # fmt: skip
    return decision
