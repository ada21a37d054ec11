from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from cpaas import bus
        from cpaas.realtime import register_topic
        from experiments import journey_facts

        from .engine.signals import on_events
        from .experiment_facts import JourneyFacts

        # every event: replies and events resume waits, reach goals and trigger journeys; a batch
        # of events (bus.emit_many) is handled as a set
        bus.subscribe_many(bus.ANY)(on_events)
        # the canvas's live counts: "journey.counts" when a journey's counters change
        register_topic("journeys", "journeys.view")
        # the events API (in contacts, below journeys) reports the engine's backlog as lag_s
        from cpaas import backlog

        from .selectors import journey_lag_s

        backlog.register("journeys", lambda workspace_id, now: journey_lag_s(workspace=workspace_id, now=now))
        # and /readyz the engine's lag across every workspace
        from cpaas import health

        from .selectors import engine_lag_s

        health.register("engine.lag_s", lambda now: engine_lag_s(now=now))
        from cpaas import metrics

        from .selectors import timer_lateness_s

        metrics.register_timer_lateness(lambda now: timer_lateness_s(now=now))
        # the experiment pages name the journey and its entry rate without importing journeys
        journey_facts.register(JourneyFacts())
