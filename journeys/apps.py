from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from cpaas import bus

        from .engine.signals import on_event

        # every event: replies and events resume waits, reach goals and trigger journeys
        bus.subscribe(bus.ANY)(on_event)
