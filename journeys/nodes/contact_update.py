"""contact.update: set attributes (merge fields allowed), add or remove tags, set the language
or the preferred channel. Exits: next, failed (a value the contact's rules refuse)."""

from django.core.exceptions import ValidationError

from .base import KINDS, Node, go, obj, short


class ContactUpdate(Node):
    type = "contact.update"
    category = "action"
    label = "Update the contact"
    icon = "user-pen"
    help = "Sets attributes, tags, language or preferred channel. Values may use merge fields."
    schema = obj(
        {
            "attributes": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            },
            "add_tags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60}},
            "remove_tags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60}},
            "language": {"type": "string", "pattern": "^[a-z]{2}$"},
            "preferred_channel": KINDS,
        }
    )
    form = [
        {
            "name": "attributes",
            "label": "Attributes",
            "widget": "keyvalue",
            "row_label": "Attribute",
            "key_label": "Attribute",
            "value_label": "New value",
            "key_choices": "attributes",
        },  # fmt: skip
        {"name": "add_tags", "label": "Add tags", "widget": "tags"},
        {"name": "remove_tags", "label": "Remove tags", "widget": "tags"},
        {"name": "language", "label": "Language", "widget": "text"},
        {"name": "preferred_channel", "label": "Preferred channel", "widget": "channel"},
    ]
    exits = ("next", "failed")

    def title(self, config):
        what = list(config.get("attributes") or {}) + [f"+{t}" for t in config.get("add_tags") or []]
        what += [f"-{t}" for t in config.get("remove_tags") or []]
        what += [k for k in ("language", "preferred_channel") if config.get(k)]
        return f"Update {short(', '.join(what), 20)}" if what else self.label

    def check(self, config, ctx):
        problems = []
        for key in config.get("attributes") or {}:
            problems += ctx.check_attribute(key, f"attributes.{key}")
        if not any(
            config.get(k) for k in ("attributes", "add_tags", "remove_tags", "language", "preferred_channel")
        ):
            problems.append(("attributes", "Nothing to update."))
        return problems

    def enter(self, run):
        cfg = run.config
        data = {}
        if cfg.get("attributes"):
            data["attributes"] = {
                k: run.render(v) if isinstance(v, str) else v for k, v in cfg["attributes"].items()
            }
        if cfg.get("language"):
            data["language"] = cfg["language"]
        if cfg.get("preferred_channel"):
            data["preferred_channel"] = cfg["preferred_channel"]
        if cfg.get("add_tags") or cfg.get("remove_tags"):
            tags = [t for t in run.contact_tags() if t not in set(cfg.get("remove_tags") or [])]
            data["tags"] = tags + [t for t in cfg.get("add_tags") or [] if t not in tags]
        try:
            run.update_contact(data)
        except ValidationError as exc:
            return go("failed", reason="; ".join(exc.messages)[:300])
        return go("next", fields=sorted(data))


NODE = ContactUpdate()
