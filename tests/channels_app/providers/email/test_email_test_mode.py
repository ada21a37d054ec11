"""Test mode for email (`manage.py fake_provider mailgun|postmark --webhook-url ...`): the fake ESP
takes the send, then posts its own `delivered` and `opened` tracking events, signed (Mailgun) or
with the webhook password (Postmark), over HTTP to the channel's status URL; the running app
takes them through anymail's checks and the message ends read, as in production."""

import time

import pytest
from django.test import override_settings

from channels_app.models import Message
from channels_app.providers.email.fake import (
    FakeMailgun,
    FakePostmark,
    mailgun_credentials,
    postmark_credentials,
)

from ...conftest import drain
from .conftest import _channel
from .test_email_send import send

CASES = {
    "mailgun": (FakeMailgun, mailgun_credentials, "/v3"),
    "postmark": (FakePostmark, postmark_credentials, ""),
}


@pytest.mark.parametrize("provider", list(CASES))
def test_the_fake_esp_posts_its_tracking_and_the_message_is_read(live_server, workspace, contact, provider):
    cls, credentials, suffix = CASES[provider]
    fake = cls(play_phone=True, receipt_delay_s=0.05).start()
    try:
        with override_settings(CHANNELS_PUBLIC_URL=live_server.url):
            channel = _channel(workspace, provider, credentials(), {"api_base": fake.url + suffix})
            fake.webhook_url = f"{live_server.url}/webhooks/{provider}/{channel.webhook_token}/status/"
            message = send(workspace, contact)
            drain(0)
            # the events arrive over HTTP, a moment after the answer (later on a busy machine)
            for _ in range(600):
                if Message.objects.get(pk=message.pk).status == Message.Status.READ:
                    break
                time.sleep(0.05)
        m = Message.objects.get(pk=message.pk)
        assert m.status == Message.Status.READ, (m.status, m.error_reason)
        assert ("webhook", "delivered", True) in list(
            m.status_events.values_list("source", "status", "applied")
        )
    finally:
        fake.stop()
