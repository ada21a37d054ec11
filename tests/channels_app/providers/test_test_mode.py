"""Test mode (`manage.py fake_provider <name>`): the fake of Vonage, Infobip or 8x8 answers the
send and plays the contact's phone, posting the provider's own receipts (authenticated as the
provider does) over HTTP to the status URL the send named; the running app takes them through
its real webhook and the message ends delivered, as in production."""

import time

import pytest
from django.test import override_settings
from django.utils.module_loading import import_string

from channels_app.models import Message

from ..conftest import drain
from .helpers import open_window, provider_channels, send

CASES = {
    "vonage": ("vonage.fake.FakeVonage", "whatsapp"),
    "infobip": ("infobip.fake.FakeInfobip", "sms"),
    "eightbyeight": ("eightbyeight.fake.FakeEightByEight", "sms"),
}


@pytest.mark.parametrize("provider", list(CASES))
def test_the_fake_plays_the_phone_and_its_receipts_deliver_the_message(
    live_server, workspace, contact, provider
):
    path, kind = CASES[provider]
    fake = import_string(f"channels_app.providers.{path}")(play_phone=True, receipt_delay_s=0.05).start()
    credentials = import_string(f"channels_app.providers.{path.rsplit('.', 1)[0]}.credentials")()
    try:
        with override_settings(CHANNELS_PUBLIC_URL=live_server.url):
            provider_channels(
                workspace,
                provider,
                [kind],
                address="+447700900001",
                credentials=credentials,
                settings={"api_base": fake.url},
            )
            open_window(contact, kind)
            message = send(workspace, contact, channel=kind)
            drain(0)
            for _ in range(100):  # the receipts arrive over HTTP, a moment after the answer
                status = Message.objects.get(pk=message.pk).status
                if status == Message.Status.DELIVERED:
                    break
                time.sleep(0.05)
        m = Message.objects.get(pk=message.pk)
        assert m.status == Message.Status.DELIVERED, (m.status, m.error_reason)
        sources = list(m.status_events.values_list("source", "status", "applied"))
        assert ("webhook", "delivered", True) in sources
    finally:
        fake.stop()
