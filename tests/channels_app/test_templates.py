"""Approved message templates come from the channel's provider (the sandbox's make-believe
WhatsApp account lists three; a provider that lists none offers none), never from a list kept
by the screen that shows them."""

import pytest

from channels_app.models import Channel
from channels_app.providers.base import MessageTemplate
from channels_app.services.channels import channel_templates

pytestmark = pytest.mark.django_db


def test_the_whatsapp_channels_provider_lists_the_templates(workspace):
    names = [t.name for t in channel_templates(workspace=workspace, kind="whatsapp")]
    assert names == ["conversation_followup", "payment_reminder", "callback_request"]
    assert channel_templates(workspace=workspace, kind="sms") == []  # SMS has no templates


def test_no_active_channel_no_templates(workspace):
    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(status=Channel.Status.DISABLED)
    assert channel_templates(workspace=workspace, kind="whatsapp") == []


def test_a_template_is_filled_by_its_variables():
    t = MessageTemplate(name="t", language="en", body="Hi {{1}}, {{2}} is due; {{1}}, reply.")
    assert t.filled({"1": "Ada", "2": "£20"}) == "Hi Ada, £20 is due; Ada, reply."
