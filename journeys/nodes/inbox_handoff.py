"""inbox.handoff: asks for a person. Records an `inbox.handoff_requested` event (queue,
priority, note) that the inbox subscribes to; the contact continues at once, or waits until the
conversation is resolved (`conversation.resolved`) with a timeout."""

from .base import SECONDS, Node, go, obj, short, wait

REQUESTED = "inbox.handoff_requested"
RESOLVED = "conversation.resolved"


class InboxHandoff(Node):
    type = "inbox.handoff"
    category = "action"
    label = "Hand off to an agent"
    icon = "headset"
    help = "Opens (or reopens) the contact's conversation in a queue; continues at once or when an agent resolves it."
    schema = obj(
        {
            "queue": {"type": "string", "minLength": 1, "maxLength": 60},
            "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
            "note": {"type": "string", "maxLength": 1000},
            "continue": {"type": "string", "enum": ["immediately", "on_resolved"]},
            "timeout_s": SECONDS,
        },
        ["queue"],
    )
    form = [
        {"name": "queue", "label": "Queue", "widget": "text", "required": True},
        {
            "name": "priority",
            "label": "Priority",
            "widget": "select",
            "options": ["low", "normal", "high", "urgent"],
        },
        {
            "name": "note",
            "label": "Note for the agent",
            "widget": "textarea",
            "help": "Merge fields allowed.",
        },
        {
            "name": "continue",
            "label": "Continue",
            "widget": "select",
            "options": ["immediately", "on_resolved"],
        },
        {"name": "timeout_s", "label": "Wait for resolution at most", "widget": "duration"},
    ]
    defaults = {"queue": "support", "priority": "normal", "continue": "immediately"}

    def title(self, config):
        return f"Hand off to {short(config.get('queue'), 20)}" if config.get("queue") else self.label

    def waiting_exits(self, config):
        return frozenset(self.exit_names(config)) if config.get("continue") == "on_resolved" else frozenset()

    def exit_names(self, config):
        return ["resolved", "timeout"] if config.get("continue") == "on_resolved" else ["next"]

    def check(self, config, ctx):
        return ctx.check_merge_fields(config.get("note"), "note")

    def enter(self, run):
        cfg = run.config
        run.record_event(
            REQUESTED,
            {
                "queue": cfg["queue"],
                "priority": cfg.get("priority", "normal"),
                "note": run.render(cfg.get("note", "")),
                "journey_id": run.journey.pk,
                "enrollment_id": run.enrollment.pk,
                "node": run.node_id,
            },
        )
        if cfg.get("continue") == "on_resolved":
            return wait(
                "event",
                event=RESOLVED,
                until=run.after(int(cfg.get("timeout_s") or 7 * 86400)),
                queue=cfg["queue"],
            )
        return go("next", queue=cfg["queue"])

    def resume(self, run, signal):
        return go("timeout" if signal.kind == "timeout" else "resolved")


NODE = InboxHandoff()
