"""trigger.event: a named event (from the API, an import, another app) enrols the contact.
An optional property filter narrows which events count."""

from .base import EVENT_NAME, Node, go, obj, short


def property_matches(filters: dict, properties: dict) -> bool:
    """Every filter key equals the event's property (compared as text; a list means any of)."""
    for key, wanted in (filters or {}).items():
        have = (properties or {}).get(key)
        options = wanted if isinstance(wanted, list) else [wanted]
        if str(have) not in {str(o) for o in options}:
            return False
    return True


class EventTrigger(Node):
    type = "trigger.event"
    category = "trigger"
    label = "When an event happens"
    icon = "zap"
    help = "Starts the journey for a contact when their event arrives (e.g. signup, cart_abandoned)."
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
        {"name": "event", "label": "Event name", "widget": "event", "required": True},
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
    defaults = {"event": "signup"}

    def title(self, config):
        return f"When {short(config.get('event'), 22)}" if config.get("event") else self.label

    def check(self, config, ctx):
        return ctx.check_event(config.get("event"), "event")

    def enter(self, run):
        return go()

    def matches(self, config: dict, event) -> bool:
        return event.name == config.get("event") and property_matches(config.get("filter"), event.properties)


NODE = EventTrigger()
