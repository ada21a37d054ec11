"""split.ab: an A/B experiment (the experiments app's Experiment, one per node, kept in step when
the journey is saved and published). Variants with names and weights adding up to 100, one of
them the control. The handler asks the engine to assign (`Outcome("assign")`): the engine asks
the experiments app once per round for every contact at the node, and the handler resumes with
the contact's choice: an exit (exposed or not), or a wait until the contact may be messaged on
the arms' channel (quiet hours). See docs/experiments.md."""

import datetime as dt

from experiments.assignment import bucket, choose
from experiments.models import variants_problems

from .base import Node, Outcome, fail, go, obj, short, wait

VARIANT = obj(
    {
        "exit": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"},
        "weight": {"type": "integer", "minimum": 0, "maximum": 1000},
        "name": {"type": "string", "maxLength": 60},
        "control": {"type": "boolean"},
    },
    ["exit", "weight"],
)
# The node types that message a contact: the first one on the control's path says which channel
# and purpose the arms message on (the consent gate before assignment), unless the node says.
SENDING = ("message.send", "message.ask", "survey.rating", "payment.link", "payment.promise")


class SplitAB(Node):
    type = "split.ab"
    category = "logic"
    label = "A/B split"
    icon = "flask-conical"
    help = (
        "An experiment: sends each contact down one variant by weight (adding up to 100, one of them the "
        "control); a contact keeps their variant; only contacts who may be messaged now are exposed."
    )
    schema = obj(
        {
            "variants": {"type": "array", "minItems": 2, "maxItems": 10, "items": VARIANT},
            "experiment": {"type": "string", "maxLength": 100},
            "channel": {"type": "string", "maxLength": 20},
            "purpose": {"type": "string", "maxLength": 32},
        },
        ["variants"],
    )
    form = [
        {"name": "experiment", "label": "Experiment name", "widget": "text"},
        {"name": "variants", "label": "Variants and weights", "widget": "variants"},
    ]
    exits = ()
    defaults = {"variants": [{"exit": "a", "weight": 50, "control": True}, {"exit": "b", "weight": 50}]}

    def title(self, config):
        if config.get("experiment"):
            return f"A/B: {short(config['experiment'], 22)}"
        return (
            f"A/B split {short(' / '.join(self.exit_names(config)), 16)}"
            if self.exit_names(config)
            else self.label
        )

    def exit_names(self, config):
        return [v["exit"] for v in config.get("variants") or [] if isinstance(v, dict) and v.get("exit")]

    def waiting_exits(self, config):
        return frozenset()

    def check(self, config, ctx):
        variants = [dict(v) for v in config.get("variants") or []]
        if variants and not any(v.get("control") for v in variants):
            variants[0]["control"] = True  # unmarked: the first variant is the control
        return [("variants", p) for p in variants_problems(variants)]

    def enter(self, run):
        return Outcome("assign")

    def resume(self, run, signal):
        if signal.kind == "timeout":  # the wait for a messageable moment ended: ask again
            return Outcome("assign")
        if signal.kind != "assigned":
            return fail(f"split.ab cannot resume on '{signal.kind}'")
        data = signal.data
        if data.get("error"):
            return fail(f"A/B assignment failed: {data['error']}")
        if not data.get("exit"):
            until = dt.datetime.fromisoformat(data["defer_until"])
            return wait("timer", until=until, reason=data.get("reason", ""))
        variants = run.config["variants"]
        chosen = data["exit"]
        if chosen not in {v["exit"] for v in variants}:  # a variant this version does not have
            chosen = choose(variants, bucket(run.journey.pk, run.node_id, run.contact.pk))
        return go(chosen, variant=chosen, exposed=bool(data.get("exposed")), **(
            {"reason": data["reason"]} if data.get("reason") and not data.get("exposed") else {}))  # fmt: skip


def arms_channel(graph: dict, node_id: str) -> tuple[str, str]:
    """(channel, purpose) the arms message on: the node's own, else the first sending node on
    the control's path (following first exits, at most 20 nodes); ("", "") when there is none."""
    nodes = graph.get("nodes") or {}
    config = (nodes.get(node_id) or {}).get("config") or {}
    if config.get("channel"):
        return str(config["channel"]), str(config.get("purpose") or "")
    variants = config.get("variants") or []
    control = next((v for v in variants if isinstance(v, dict) and v.get("control")), None)
    control = control or (variants[0] if variants and isinstance(variants[0], dict) else {})
    at = ((nodes.get(node_id) or {}).get("exits") or {}).get(control.get("exit"))
    seen = set()
    while at and at not in seen and len(seen) < 20:
        seen.add(at)
        spec = nodes.get(at) or {}
        if spec.get("type") in SENDING:
            c = spec.get("config") or {}
            channel = c.get("channel", "preferred")
            purpose = c.get("purpose") or (
                "collections" if spec["type"].startswith("payment.") else "transactional"
            )
            return str(channel), str(purpose)
        exits = [t for t in (spec.get("exits") or {}).values() if t]
        at = exits[0] if exits else None
    return "", ""


def split_nodes(graph: dict) -> dict[str, dict]:
    """{node id: {config, channel, purpose}} of a graph's split.ab nodes (experiments_sync's input)."""
    out = {}
    for node_id, spec in (graph.get("nodes") or {}).items():
        if isinstance(spec, dict) and spec.get("type") == "split.ab":
            channel, purpose = arms_channel(graph, node_id)
            out[node_id] = {"config": spec.get("config") or {}, "channel": channel, "purpose": purpose}
    return out


NODE = SplitAB()
