from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from cpaas import bus

        from .handlers import SUBSCRIPTIONS

        # inbound messages and journeys' hand-offs open conversations (inbox/handlers.py)
        for name, handler in SUBSCRIPTIONS.items():
            bus.subscribe(name)(handler)
