"""Per-provider rates (issue 17 item 4): a provider whose limit counts SMS segments (Twilio's
messages-per-second are segments) has each message take its segments from the channel's shared
token bucket; a message longer than the bucket waits for a full bucket instead of for ever."""

import pytest

from channels_app.models import Channel, Message
from channels_app.providers import get_provider
from channels_app.services.messages import message_send

from .conftest import at, drain

pytestmark = pytest.mark.django_db
TWO_PARTS = "Your statement is ready. " * 8  # 200 GSM-7 characters: 2 segments


def send(workspace, contact, text, i):
    return message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": text},
        idempotency_key=f"k{i}",
        now=at(0),
    )


def test_an_sms_takes_as_many_tokens_as_it_has_segments(workspace, contact, twilio, fake):
    Channel.objects.filter(pk=twilio["sms"].pk).update(rate_limit_per_second=3)
    messages = [send(workspace, contact, TWO_PARTS, i) for i in range(3)]
    assert {m.segments for m in messages} == {2}
    drain(0)
    assert len(fake.messages()) == 1  # 3 tokens: one 2-part message, the next needs 2 more
    drain(0.2)
    assert len(fake.messages()) == 1  # 1 + 0.2 * 3 = 1.6 tokens: not enough for 2 segments
    drain(0.4)
    assert len(fake.messages()) == 2  # 2.2 tokens
    drain(0.6)
    assert len(fake.messages()) == 2  # 0.8
    drain(1.1)
    assert len(fake.messages()) == 3
    assert Message.objects.filter(status="sent").count() == 3


def test_a_message_longer_than_the_bucket_still_goes(workspace, contact, twilio, fake):
    Channel.objects.filter(pk=twilio["sms"].pk).update(rate_limit_per_second=1)
    send(workspace, contact, "x" * 480, 0)  # 4 segments on a 1 segment/s long code
    drain(0)
    assert len(fake.messages()) == 1


def test_messages_not_segments_for_whatsapp_and_the_sandbox():
    assert get_provider("twilio").rate_unit("sms") == "segment"
    assert get_provider("twilio").rate_unit("whatsapp") == "message"
    assert get_provider("sandbox").rate_unit("sms") == "message"
    assert get_provider("meta").rate_unit("whatsapp") == "message"
