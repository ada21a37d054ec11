"""exit: the contact leaves the journey here (completed)."""

from .base import Node, end, obj, short


class Exit(Node):
    type = "exit"
    category = "end"
    label = "Exit"
    icon = "circle-stop"
    help = "The contact leaves the journey."
    schema = obj({"reason": {"type": "string", "maxLength": 200}})
    form = [{"name": "reason", "label": "Reason (shown in history)", "widget": "text"}]
    exits = ()

    def title(self, config):
        return f"Exit: {short(config.get('reason'), 22)}" if config.get("reason") else self.label

    def enter(self, run):
        return end("completed", reason=run.config.get("reason", ""))


NODE = Exit()
