"""goal: a journey-level goal, not connected to anything. When its event arrives for a contact
in the journey, a conversion is counted and (with the journey's "exit on goal" rule) the
contact leaves. A path may also lead into it: arriving there counts as reaching the goal."""

from .base import EVENT_NAME, Node, end, obj, short


class Goal(Node):
    type = "goal"
    category = "end"
    label = "Goal"
    icon = "flag"
    help = "Counts a conversion when its event arrives (e.g. purchase); the contact leaves the journey if the journey says so."
    schema = obj(
        {
            "event": EVENT_NAME,
            "filter": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean", "array"]},
            },
        },
        ["event"],
    )
    form = [
        {"name": "event", "label": "Goal event", "widget": "event", "required": True},
        {
            "name": "filter",
            "label": "Only when properties equal",
            "widget": "keyvalue",
            "row_label": "Property",
            "key_label": "Event property",
            "key_choices": "event_properties",
            "value_label": "Equals",
        },  # fmt: skip
    ]
    exits = ()
    defaults = {"event": "purchase"}

    def title(self, config):
        return f"Goal: {short(config.get('event'), 22)}" if config.get("event") else self.label

    def check(self, config, ctx):
        return ctx.check_event(config.get("event"), "event")

    def enter(self, run):
        return end("goal", reason=f"reached goal {run.config.get('event')}")


NODE = Goal()
