"""The experiment page's design form: what was posted, read into the Experiment's fields, with an
error in words for each field it cannot take (shown next to that field, nothing saved). The page
shows percentages and days; the model keeps fractions and seconds."""

from __future__ import annotations

from contacts.event_names import event_known

from .models import GUARDRAIL_METRICS, SECONDARY_METRICS, Experiment, variants_problems

GUARDRAIL_LABELS = {
    "opt_out_rate": "Opt-out rate",
    "delivery_failure_rate": "Delivery failure rate",
    "complaint_replies": "Complaint replies",
}
SECONDARY_LABELS = {"reply_rate": "Reply rate", "cost_per_conversion": "Cost per conversion"}
GUARDRAIL_CHOICES = [(m, GUARDRAIL_LABELS.get(m, m)) for m in GUARDRAIL_METRICS]
SECONDARY_CHOICES = [(m, SECONDARY_LABELS.get(m, m)) for m in SECONDARY_METRICS]
DEFAULT_THRESHOLD = 0.01  # a guardrail's largest acceptable rise over control: one point
DAY = 86400


def _number(text: str) -> float:
    return float(text.strip().replace(",", ".").rstrip("%").strip())


def _pct_text(x) -> str:
    """0.032 -> "3.2" (what the form shows for a stored fraction)."""
    return "" if x is None else f"{100 * x:.4g}"


def design_values(experiment: Experiment) -> dict:
    """The form's values as text, from the stored experiment."""
    return {
        "hypothesis": experiment.hypothesis,
        "goal_event": experiment.goal_event,
        "goal_window_days": f"{experiment.goal_window_s / DAY:g}",
        "guardrails": list(experiment.guardrails or {}),
        "thresholds": {
            m: _pct_text((experiment.guardrails or {}).get(m, {}).get("threshold", DEFAULT_THRESHOLD))
            for m in GUARDRAIL_METRICS
        },  # fmt: skip
        "secondary": list(experiment.secondary_metrics or []),
        "baseline": _pct_text(experiment.baseline_rate),
        "mde": _pct_text(experiment.mde),
        "power": _pct_text(experiment.power),
        "min_runtime_days": f"{experiment.min_runtime_s / DAY:g}",
        "sequential": experiment.sequential,
        "auto_stop": experiment.auto_stop_on_guardrail,
        "decision_rule": experiment.decision_rule,
    }


def design_variants(experiment: Experiment) -> list[dict]:
    return [{"exit": v["exit"], "label": v.get("name") or v["exit"], "weight": v.get("weight", 0),
             "control": bool(v.get("control"))} for v in experiment.variants]  # fmt: skip


def variants_from_post(experiment: Experiment, post) -> tuple[list[dict] | None, list[str], list[dict]]:
    """(the split's variants as its node config keeps them, or None when unchanged or wrong; the
    errors; the rows to show again). The exits are the split's: only their names, weights and
    which one is the control change here, while the experiment is a draft."""
    known = [v["exit"] for v in experiment.variants]
    if not known:  # nothing to edit (the split's config had no readable variants)
        return None, [], []
    control = post.get("control", "")
    rows, variants, errors = [], [], []
    for i, exit_ in enumerate(known):
        label = post.get(f"variant-{i}-label", "").strip()[:60]
        weight_text = post.get(f"variant-{i}-weight", "").strip().rstrip("%").strip()
        rows.append({"exit": exit_, "label": label, "weight": weight_text, "control": exit_ == control})
        if not weight_text.isdigit() or int(weight_text) > 100:
            errors.append(f"Variant {exit_}: the weight is a whole number from 0 to 100.")
            continue
        variant = {"exit": exit_, "weight": int(weight_text)}
        if label:
            variant["name"] = label
        if exit_ == control:
            variant["control"] = True
        variants.append(variant)
    if control not in known:
        errors.append("Choose which variant is the control: the one the others are compared with.")
    if not errors:
        errors = [p for p in variants_problems(variants) if "control" not in p]
    if errors:
        return None, errors, rows

    def norm(vs):
        return [
            (v["exit"], int(v.get("weight") or 0), v.get("name") or v["exit"], bool(v.get("control")))
            for v in vs
        ]

    return (None if norm(variants) == norm(experiment.variants) else variants), [], rows


def design_from_post(experiment: Experiment, post, *, full: bool) -> tuple[dict, dict, dict]:
    """(changes for `experiment_update`, errors by field, the values to show again). `full` is
    False once the experiment has ended: only the hypothesis changes then. The name and the arms
    are the split node's, edited in the journey."""
    errors: dict[str, list[str]] = {}
    changes: dict = {}
    values = design_values(experiment)

    def err(name, message):
        errors.setdefault(name, []).append(message)

    hypothesis = post.get("hypothesis", "").strip()
    values["hypothesis"] = hypothesis
    if len(hypothesis) > 2000:
        err("hypothesis", "At most 2,000 characters.")
    else:
        changes["hypothesis"] = hypothesis
    if not full:
        return changes, errors, values

    goal = post.get("goal_event", "").strip()
    values["goal_event"] = goal
    if not goal:
        err("goal_event", "Name the event that counts as a conversion, e.g. payment_completed.")
    elif not event_known(workspace=experiment.workspace, name=goal):
        err("goal_event", f"No '{goal}' event has been received in this workspace yet: send one first (API or "
                          "contact page), or choose a standard event such as payment_completed.")  # fmt: skip
    else:
        changes["goal_event"] = goal

    def number(name, *, low, high, what, scale=1.0, integer=False):
        text = post.get(name, "").strip()
        values[name] = text
        try:
            x = _number(text)
            if integer and x != int(x):
                raise ValueError
        except ValueError:
            err(name, f"Enter {what} as a number.")
            return None
        if not low <= x <= high:
            err(name, f"Enter {what} from {low:g} to {high:g}.")
            return None
        return x * scale

    window = number("goal_window_days", low=1, high=90, what="a window in whole days", integer=True)
    if window is not None:
        changes["goal_window_s"] = int(window) * DAY
    runtime = number("min_runtime_days", low=0, high=365, what="a runtime in whole days", integer=True)
    if runtime is not None:
        changes["min_runtime_s"] = int(runtime) * DAY
    mde = number("mde", low=0.5, high=500, what="the effect in % (relative)", scale=0.01)
    if mde is not None:
        changes["mde"] = mde
    power = number("power", low=50, high=99, what="the power in %", scale=0.01)
    if power is not None:
        changes["power"] = power
    if post.get("baseline", "").strip():
        baseline = number("baseline", low=0.01, high=99, what="the control's expected rate in %", scale=0.01)
        if baseline is not None:
            changes["baseline_rate"] = baseline
    else:
        values["baseline"] = ""
        changes["baseline_rate"] = None

    chosen = [m for m in post.getlist("guardrails") if m in GUARDRAIL_METRICS]
    values["guardrails"] = chosen
    guardrails = {}
    for metric in chosen:
        text = post.get(f"threshold-{metric}", "").strip()
        values["thresholds"][metric] = text
        try:
            threshold = _number(text) / 100 if text else DEFAULT_THRESHOLD
            if not 0 < threshold <= 1:
                raise ValueError
        except ValueError:
            err("guardrails", f"{GUARDRAIL_LABELS.get(metric, metric)}: the largest acceptable rise is a "
                              "number of percentage points above 0, e.g. 1.")  # fmt: skip
            continue
        guardrails[metric] = {"threshold": threshold}
    changes["guardrails"] = guardrails
    secondary = [m for m in post.getlist("secondary") if m in SECONDARY_METRICS]
    values["secondary"] = secondary
    changes["secondary_metrics"] = secondary
    values["sequential"] = bool(post.get("sequential"))
    changes["sequential"] = values["sequential"]
    values["auto_stop"] = bool(post.get("auto_stop"))
    changes["auto_stop_on_guardrail"] = values["auto_stop"]
    rule = post.get("decision_rule", Experiment.Rule.MANUAL)
    values["decision_rule"] = rule
    if rule not in Experiment.Rule.values:
        err("decision_rule", "Choose how the winner is declared.")
    else:
        changes["decision_rule"] = rule
    return changes, errors, values


def essentials_from_post(experiment: Experiment, post) -> tuple[dict, dict, dict]:
    """The split node's panel in the editor edits the essentials only: the hypothesis and the
    primary goal (event and window). Same rules and messages as the experiment page."""
    full = {**design_values(experiment), **{k: v for k, v in post.items() if k in ESSENTIALS}}
    changes, errors, values = design_from_post(experiment, _Post(full), full=True)
    keep = {"hypothesis", "goal_event", "goal_window_s"}
    return ({k: v for k, v in changes.items() if k in keep},
            {k: v for k, v in errors.items() if k in ESSENTIALS}, values)  # fmt: skip


ESSENTIALS = ("hypothesis", "goal_event", "goal_window_days")


class _Post(dict):
    """The stored values as if posted (lists for the multi-valued fields)."""

    def getlist(self, key):
        value = self.get(key, [])
        return value if isinstance(value, list) else [value]

    def get(self, key, default=None):
        value = super().get(key, default)
        if isinstance(value, bool):
            return "on" if value else ""
        return value
