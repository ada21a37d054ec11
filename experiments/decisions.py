"""The automatic decisions, run by the worker on a schedule (`experiments_decide`, task in
`tasks.py`): a guardrail breach stops an experiment that asks for it (all new traffic to control),
and an experiment whose rule is automatic gets a winner when every condition holds:

- a variant beats control significantly after the correction for multiple comparisons
  (its adjusted p-value below alpha; the always-valid one in sequential mode),
- by at least the minimum detectable effect (relative lift),
- the minimum runtime has passed since the start,
- no guardrail is breached and the traffic split shows no sample-ratio mismatch.

Each reads the results dict of `experiments.results.compute` (its docstring is the contract:
per arm `p_adjusted` and `lift.relative`, `guardrails[].breached`, `srm.mismatch`). The readers
below are the only place here that knows its shape."""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from cpaas.tenancy import Actor

from .models import Experiment
from .services import experiment_declare_winner, experiment_stop

log = logging.getLogger(__name__)
SYSTEM = Actor.system("experiments: automatic rule")


# --- reading the results dict -------------------------------------------------------------------


def arms_of(results: dict) -> list[dict]:
    return [a for a in results.get("arms") or [] if isinstance(a, dict) and a.get("exit")]


def srm_mismatch(results: dict) -> bool:
    srm = results.get("srm") or {}
    return bool(srm.get("mismatch"))


def breached_guardrails(results: dict) -> list[str]:
    """Words for each breached guardrail: "opt_out_rate on b"."""
    out = []
    for g in results.get("guardrails") or []:
        if isinstance(g, dict) and g.get("breached"):
            out.append(f"{g.get('metric', 'guardrail')} on {g.get('exit', '?')}")
    return out


# --- the rules ----------------------------------------------------------------------------------


def winner_by_rule(experiment: Experiment, results: dict, now: dt.datetime) -> tuple[str, str]:
    """(winner exit, why) when the automatic rule holds, else ("", why not)."""
    if not experiment.started_at or now - experiment.started_at < dt.timedelta(
        seconds=experiment.min_runtime_s
    ):
        return "", "the minimum runtime has not passed"
    if srm_mismatch(results):
        return "", "the traffic split does not match the weights (sample-ratio mismatch)"
    breached = breached_guardrails(results)
    if breached:
        return "", f"a guardrail is breached ({', '.join(breached)})"
    control = experiment.control
    candidates = []
    for arm in arms_of(results):
        if arm["exit"] == control:
            continue
        p, lift = arm.get("p_adjusted"), arm.get("lift")
        if isinstance(lift, dict):
            lift = lift.get("relative")
        if p is None or lift is None:
            continue
        if p < experiment.alpha and lift >= experiment.mde:
            candidates.append((lift, arm["exit"], p))
    if not candidates:
        return "", "no variant beats control significantly by the minimum effect"
    lift, exit_, p = max(candidates)
    return exit_, f"{exit_} beats control by {lift:+.1%} (adjusted p = {p:.4g} < {experiment.alpha:g})"


def decide(experiment: Experiment, results: dict, now: dt.datetime) -> str:
    """Apply the automatic rules to one running experiment; what was done ("" when nothing)."""
    breached = breached_guardrails(results)
    if breached and experiment.auto_stop_on_guardrail:
        experiment_stop(experiment=experiment, actor=SYSTEM, guardrail=True, numbers=results, automatic=True,
                        reason=f"guardrail breached: {', '.join(breached)}", now=now)  # fmt: skip
        return "guardrail_stop"
    if experiment.decision_rule != Experiment.Rule.AUTO:
        return ""
    winner, why = winner_by_rule(experiment, results, now)
    if not winner:
        return ""
    experiment_declare_winner(experiment=experiment, winner=winner, actor=SYSTEM, numbers=results,
                              automatic=True, reason=why, now=now)  # fmt: skip
    return "winner"


def _results(experiment: Experiment, now: dt.datetime) -> dict:
    """Fresh numbers to decide on (computed now, and cached for the pages as a refresh would)."""
    from .results import refresh

    return refresh(experiment, now=now)


def experiments_decide(*, now: dt.datetime | None = None) -> dict[int, str]:
    """Every running experiment with an automatic rule or guardrail stop: {experiment id: what
    was done}. One experiment's failure is logged and the others go on."""
    now = now or timezone.now()
    done = {}
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING).filter(
        Q(decision_rule=Experiment.Rule.AUTO) | Q(auto_stop_on_guardrail=True)
    )
    for experiment in running.order_by("pk"):
        try:
            action = decide(experiment, _results(experiment, now), now)
        except ValidationError as exc:  # decided meanwhile (by hand, or another worker)
            log.info("experiment %s: %s", experiment.pk, "; ".join(exc.messages))
            continue
        if action:
            done[experiment.pk] = action
    return done
