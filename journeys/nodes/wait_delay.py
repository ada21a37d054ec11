"""wait.delay: wait a fixed duration, then continue."""

from .base import SECONDS, Node, go, obj, wait


class WaitDelay(Node):
    type = "wait.delay"
    category = "wait"
    label = "Wait"
    icon = "⏱"
    help = "Waits a fixed time (seconds to months) before the next step; fires within about a second."
    schema = obj({"seconds": SECONDS}, ["seconds"])
    form = [{"name": "seconds", "label": "Wait for", "widget": "duration", "required": True}]
    defaults = {"seconds": 3600}

    def waiting_exits(self, config):
        return frozenset({"next"})

    def enter(self, run):
        return wait("timer", until=run.after(run.config["seconds"]))

    def resume(self, run, signal):
        return go()


NODE = WaitDelay()
