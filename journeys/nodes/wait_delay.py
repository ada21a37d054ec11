"""wait.delay: wait a fixed duration, then continue."""

from .base import SECONDS, Node, duration_words, go, obj, wait


class WaitDelay(Node):
    type = "wait.delay"
    category = "wait"
    label = "Wait"
    icon = "timer"
    help = "Waits a fixed time (seconds to months) before the next step; fires within about a second."
    schema = obj({"seconds": SECONDS}, ["seconds"])
    form = [{"name": "seconds", "label": "Wait for", "widget": "duration", "required": True}]
    defaults = {"seconds": 3600}

    def title(self, config):
        words = duration_words(config.get("seconds"))
        return f"Wait {words}" if words else self.label

    def waiting_exits(self, config):
        return frozenset({"next"})

    def enter(self, run):
        return wait("timer", until=run.after(run.config["seconds"]))

    def resume(self, run, signal):
        return go()


NODE = WaitDelay()
