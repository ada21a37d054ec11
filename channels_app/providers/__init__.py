"""The provider registry: name -> adapter. Adding a provider is a package in
channels_app/providers/<name>/ with a Provider subclass, plus one line here."""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from .base import Provider

PROVIDERS = {
    "sandbox": "channels_app.providers.sandbox.SandboxProvider",
    "twilio": "channels_app.providers.twilio.TwilioProvider",
    "meta": "channels_app.providers.meta.MetaProvider",
    "vonage": "channels_app.providers.vonage.VonageProvider",
    "infobip": "channels_app.providers.infobip.InfobipProvider",
    "eightbyeight": "channels_app.providers.eightbyeight.EightByEightProvider",
    "smtp": "channels_app.providers.email.smtp.SmtpProvider",
    "mailgun": "channels_app.providers.email.MailgunProvider",
    "postmark": "channels_app.providers.email.PostmarkProvider",
}


class UnknownProvider(KeyError):
    pass


@cache
def get_provider(name: str) -> Provider:
    if name not in PROVIDERS:
        raise UnknownProvider(f"Unknown provider '{name}' (known: {', '.join(PROVIDERS)}).")
    return import_string(PROVIDERS[name])()


def provider_choices() -> list[tuple[str, str]]:
    return [(name, get_provider(name).label) for name in PROVIDERS]


def all_providers() -> list[Provider]:
    return [get_provider(name) for name in PROVIDERS]


def simulator_providers() -> list[str]:
    """The providers whose messages the phone simulator plays."""
    return [name for name in PROVIDERS if get_provider(name).simulator]


def default_provider() -> str:
    """The provider a new workspace's channels start on: the first that plays the simulator
    (it needs no account)."""
    return simulator_providers()[0]
