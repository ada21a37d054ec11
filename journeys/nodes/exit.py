"""exit: the contact leaves the journey here (completed)."""

from .base import Node, end, obj


class Exit(Node):
    type = "exit"
    category = "end"
    label = "Exit"
    icon = "■"
    help = "The contact leaves the journey."
    schema = obj({"reason": {"type": "string", "maxLength": 200}})
    form = [{"name": "reason", "label": "Reason (shown in history)", "widget": "text"}]
    exits = ()

    def enter(self, run):
        return end("completed", reason=run.config.get("reason", ""))


NODE = Exit()
