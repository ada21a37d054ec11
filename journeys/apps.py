from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from cpaas import bus
        from cpaas.realtime import register_topic

        from .engine.signals import on_event

        # every event: replies and events resume waits, reach goals and trigger journeys
        bus.subscribe(bus.ANY)(on_event)
        # the canvas's live counts: "journey.counts" when a journey's counters change
        register_topic("journeys", "journeys.view")
