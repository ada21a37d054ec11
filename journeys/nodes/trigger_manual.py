"""trigger.manual: contacts are started by a person (journey page), the API or a CSV list."""

from .base import Node, go, obj


class ManualTrigger(Node):
    type = "trigger.manual"
    category = "trigger"
    label = "Started by hand, API or CSV"
    icon = "play"
    help = "Contacts enter when someone starts them: from the journey page, the API or an uploaded list."
    schema = obj({})
    form = []

    def enter(self, run):
        return go()


NODE = ManualTrigger()
