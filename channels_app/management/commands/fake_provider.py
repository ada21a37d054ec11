"""`manage.py fake_provider vonage|infobip|eightbyeight|meta|mailgun|postmark`: a local fake of that provider's API
(channels_app/providers/<name>/fake.py) for `make run`'s test mode. Point a channel's API base
URL at it and give the channel the fake's credentials (printed at start): it answers sends as the
provider documents and plays the contact's phone, posting the provider's `sent` then `delivered`
receipts, authenticated as the provider does, to the status URL each send names. The app must
allow the fake's address: CHANNELS_PROVIDER_ALLOWED_NETWORKS=127.0.0.1/32. Meta names no status
URL per send (statuses go to the app's one callback URL): give the channel's with --webhook-url;
Mailgun and Postmark neither (their tracking webhooks are set in their consoles): give the email
channel's status URL with --webhook-url (the fake posts `delivered` then `opened`)."""

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


@dataclass(frozen=True)
class Fake:
    """How to run one provider's fake: what it is told, and what it prints (declared here, so the
    command names no provider in its logic: tests/channels_app/test_structure.py)."""

    module: str
    cls: str
    port: int
    credentials: str = "credentials"  # the module's function giving the channel's credentials
    plays_phone: bool = True  # takes play_phone (posts receipts to the URL each send names)
    webhook_url: bool = False  # takes --webhook-url (its webhooks are set in its console)
    key_file: bool = False  # an application key that outlives a restart, like a real one
    base_suffix: str = ""  # added to its URL to make the channel's API base


FAKES = {
    "vonage": Fake("channels_app.providers.vonage.fake", "FakeVonage", 8791, key_file=True),
    "infobip": Fake("channels_app.providers.infobip.fake", "FakeInfobip", 8792),
    "eightbyeight": Fake("channels_app.providers.eightbyeight.fake", "FakeEightByEight", 8793),
    "meta": Fake("channels_app.providers.meta.fake", "FakeGraph", 8790, plays_phone=False, webhook_url=True),
    "mailgun": Fake(
        "channels_app.providers.email.fake",
        "FakeMailgun",
        8794,
        "mailgun_credentials",
        webhook_url=True,
        base_suffix="/v3",
    ),
    "postmark": Fake(
        "channels_app.providers.email.fake", "FakePostmark", 8795, "postmark_credentials", webhook_url=True
    ),
}


class Command(BaseCommand):
    help = "Run a local fake of a provider's API that also plays the contact's phone (test mode)."

    def add_arguments(self, parser):
        parser.add_argument("provider", choices=sorted(FAKES))
        parser.add_argument(
            "--port", type=int, default=0, help="Default: 8791, 8792, 8793, 8790, 8794, 8795 in that order."
        )
        parser.add_argument(
            "--webhook-url",
            default="",
            help="meta: the channel's callback URL; mailgun, postmark: its status URL.",
        )

    def handle(self, *args, provider, port, webhook_url="", **options):
        import importlib

        fake = FAKES[provider]
        module = importlib.import_module(fake.module)
        kwargs = {"port": port or fake.port}
        if fake.plays_phone:
            kwargs["play_phone"] = True
        if fake.webhook_url:
            kwargs["webhook_url"] = webhook_url
        credentials = getattr(module, fake.credentials)()
        key_file = None
        if fake.key_file:
            key_file = Path(tempfile.gettempdir()) / f"cpaas-fake-{provider}-private.pem"
            if not key_file.exists():
                key_file.write_text(credentials["private_key"])
                key_file.chmod(0o600)
            credentials["private_key"] = key_file.read_text()
            kwargs["private_key"] = credentials["private_key"]
        try:
            server = getattr(module, fake.cls)(**kwargs).start()
        except OSError as exc:
            raise CommandError(f"Could not listen on port {kwargs['port']}: {exc}") from None
        base = server.url + fake.base_suffix
        lines = [f"Fake {provider} API on {base} (use it as the channel's API base URL)"]
        for name, value in credentials.items():
            shown = f"the PEM in {key_file}" if key_file and name == "private_key" else value
            lines.append(f"  {name:<22} {shown}")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
