"""`manage.py fake_meta`: the local fake Graph API (channels_app/providers/meta/fake.py) for
`make run`'s test mode. Point a Meta channel's "API base URL" at it, use the fake's credentials
(printed at start) and it answers sends as Meta does and posts signed sent/delivered statuses to
the channel's callback URL."""

import time

from django.core.management.base import BaseCommand

from channels_app.providers.meta import fake


class Command(BaseCommand):
    help = "Run a local fake of Meta's WhatsApp Cloud API (test mode)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8790)
        parser.add_argument("--webhook-url", default="", help="The channel's callback URL (for statuses).")

    def handle(self, *args, port, webhook_url, **options):
        server = fake.FakeGraph(port=port, webhook_url=webhook_url).start()
        self.stdout.write(
            f"Fake Graph API on {server.url}\n"
            f"  access token   {fake.ACCESS_TOKEN}\n  app secret     {fake.APP_SECRET}\n"
            f"  phone number ID {fake.PHONE_NUMBER_ID}\n  WABA ID        {fake.WABA_ID}\n"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
