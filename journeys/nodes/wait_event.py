"""wait.event: wait for a named event of the contact, optionally one whose properties match
(e.g. the same cart_id as the entry event: {"cart_id": "{{event.cart_id}}"}). Exits: event,
timeout."""

from .base import EVENT_NAME, SECONDS, Node, go, obj, short, wait


class WaitEvent(Node):
    type = "wait.event"
    category = "wait"
    label = "Wait for an event"
    icon = "hourglass"
    help = "Waits for the contact's event (optionally matching properties of the entry event), or times out."
    schema = obj(
        {
            "event": EVENT_NAME,
            "match": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            "timeout_s": SECONDS,
        },
        ["event", "timeout_s"],
    )
    form = [
        {"name": "event", "label": "Event", "widget": "event", "required": True},
        {
            "name": "match",
            "label": "Properties must equal",
            "widget": "keyvalue",
            "row_label": "Property",
            "key_label": "Event property",
            "key_choices": "event_properties",
            "value_label": "Equals",
            "help": "e.g. cart_id equals {{event.cart_id}} (the entry event's cart).",
        },
        {"name": "timeout_s", "label": "Give up after", "widget": "duration", "required": True},
    ]
    exits = ("event", "timeout")
    defaults = {"event": "purchase", "timeout_s": 86400}

    def title(self, config):
        return f"Wait for {short(config.get('event'), 20)}" if config.get("event") else self.label

    def waiting_exits(self, config):
        return frozenset({"event", "timeout"})

    def check(self, config, ctx):
        return ctx.check_event(config.get("event"), "event") + ctx.check_merge_fields(
            config.get("match"), "match"
        )

    def enter(self, run):
        match = {
            k: run.render(v) if isinstance(v, str) else v for k, v in (run.config.get("match") or {}).items()
        }
        return wait("event", until=run.after(run.config["timeout_s"]), event=run.config["event"], match=match)

    def resume(self, run, signal):
        if signal.kind == "timeout":
            return go("timeout")
        run.context["last_event"] = signal.data.get("properties", {})
        return go("event", event_id=signal.data.get("event_id"))


NODE = WaitEvent()
