"""split.ab: an experiment. Variants with weights; a contact's variant is chosen once (a stable
hash of journey, node and contact against the weights) and kept in an Assignment row, whose
creation is the exposure. The statistics come later; the numbers are already there."""

import hashlib

from .base import Node, go, obj

VARIANT = obj(
    {
        "exit": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"},
        "weight": {"type": "integer", "minimum": 0, "maximum": 1000},
    },
    ["exit", "weight"],
)


def bucket(journey_id: int, node: str, contact_id: int) -> float:
    digest = hashlib.sha256(f"{journey_id}:{node}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose(variants: list[dict], point: float) -> str:
    total = sum(v["weight"] for v in variants)
    edge = 0.0
    for v in variants:
        edge += v["weight"] / total
        if point < edge:
            return v["exit"]
    return variants[-1]["exit"]


class SplitAB(Node):
    type = "split.ab"
    category = "logic"
    label = "A/B split"
    icon = "⚖"
    help = "Sends each contact down one variant by weight; a contact keeps their variant; each exposure is recorded."
    schema = obj(
        {
            "variants": {"type": "array", "minItems": 2, "maxItems": 10, "items": VARIANT},
            "experiment": {"type": "string", "maxLength": 100},
        },
        ["variants"],
    )
    form = [
        {"name": "experiment", "label": "Experiment name", "widget": "text"},
        {"name": "variants", "label": "Variants and weights", "widget": "variants"},
    ]
    exits = ()
    defaults = {"variants": [{"exit": "a", "weight": 50}, {"exit": "b", "weight": 50}]}

    def exit_names(self, config):
        return [v["exit"] for v in config.get("variants") or [] if isinstance(v, dict) and v.get("exit")]

    def check(self, config, ctx):
        variants = config.get("variants") or []
        problems = []
        if sum(v.get("weight", 0) for v in variants) <= 0:
            problems.append(("variants", "At least one variant needs a weight above 0."))
        names = [v["exit"] for v in variants]
        if len(set(names)) != len(names):
            problems.append(("variants", "Each variant needs its own exit name."))
        return problems

    def enter(self, run):
        variants = run.config["variants"]
        chosen = run.assign_variant(
            lambda: choose(variants, bucket(run.journey.pk, run.node_id, run.contact.pk))
        )
        if chosen not in {v["exit"] for v in variants}:  # a variant removed in a later version
            chosen = choose(variants, bucket(run.journey.pk, run.node_id, run.contact.pk))
        return go(chosen, variant=chosen)


NODE = SplitAB()
