from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from channels_app.live import STATES_NOTICE
        from cpaas import bus
        from cpaas.realtime import register_topic

        from .handlers import SUBSCRIPTIONS
        from .live import groups_for
        from .states import on_message_states

        # inbound messages and journeys' hand-offs open conversations (inbox/handlers.py)
        for name, handler in SUBSCRIPTIONS.items():
            bus.subscribe(name)(handler)
        # people's messages changed state (a reply sent, delivered, failed): shown live
        bus.subscribe(STATES_NOTICE)(on_message_states)
        # /ws/live/?topics=inbox joins only the member's queues (or everything for supervisors)
        register_topic("inbox", "inbox.view", groups=groups_for)
