from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"

    def ready(self) -> None:
        from cpaas.realtime import register_topic

        register_topic("contacts", "contacts.view")
