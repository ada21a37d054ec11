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
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

FAKES = {
    "vonage": ("channels_app.providers.vonage.fake", "FakeVonage", 8791),
    "infobip": ("channels_app.providers.infobip.fake", "FakeInfobip", 8792),
    "eightbyeight": ("channels_app.providers.eightbyeight.fake", "FakeEightByEight", 8793),
    "meta": ("channels_app.providers.meta.fake", "FakeGraph", 8790),
    "mailgun": ("channels_app.providers.email.fake", "FakeMailgun", 8794),
    "postmark": ("channels_app.providers.email.fake", "FakePostmark", 8795),
}
# the fake's credentials, for the modules that hold more than one fake
CREDENTIALS = {"mailgun": "mailgun_credentials", "postmark": "postmark_credentials"}


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

        module_name, cls, default_port = FAKES[provider]
        module = importlib.import_module(module_name)
        kwargs = {"port": port or default_port, "play_phone": True}
        if provider == "meta":
            kwargs = {"port": port or default_port, "webhook_url": webhook_url}
        elif provider in CREDENTIALS:
            kwargs["webhook_url"] = webhook_url
        credentials = getattr(module, CREDENTIALS.get(provider, "credentials"))()
        if provider == "vonage":  # the application key outlives a restart, like a real one
            key_file = Path(tempfile.gettempdir()) / "cpaas-fake-vonage-private.pem"
            if not key_file.exists():
                key_file.write_text(credentials["private_key"])
                key_file.chmod(0o600)
            credentials["private_key"] = key_file.read_text()
            kwargs["private_key"] = credentials["private_key"]
        try:
            server = getattr(module, cls)(**kwargs).start()
        except OSError as exc:
            raise CommandError(f"Could not listen on port {kwargs['port']}: {exc}") from None
        base = server.url + ("/v3" if provider == "mailgun" else "")
        lines = [f"Fake {provider} API on {base} (use it as the channel's API base URL)"]
        for name, value in credentials.items():
            shown = f"the PEM in {key_file}" if name == "private_key" else value
            lines.append(f"  {name:<22} {shown}")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
