"""A journey's message step sends an approved WhatsApp template (issue 17 item 3): the node
panel lists the templates synced from the WhatsApp channel's account (approved ones only), and
the step sends the template with its values, merge fields filled, to the provider (the fake
Graph API), outside any 24-hour window; other channels send the text."""

import datetime as dt
import json

import pytest
from django.urls import reverse

from channels_app.models import Channel, Message
from channels_app.providers.meta.fake import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, WABA_ID, FakeGraph
from channels_app.services.channels import channel_create, channel_templates_sync
from channels_app.services.dispatch import dispatch_pending
from cpaas.tenancy import Actor
from journeys.services import journey_create
from tests.conftest import client_for
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
STEP = {
    "channel": "whatsapp",
    "purpose": "collections",
    "template": {"en": "Hello {{contact.first_name}}, your payment of £120 is due on 5 March."},
    "wa_template": "payment_reminder|en_US",
    "wa_template_variables": ["{{contact.first_name}}", "£120.00", "5 March"],
}


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def meta(workspace, fake):
    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(status="disabled")
    channel = channel_create(
        workspace=workspace,
        actor=Actor.system("test"),
        kind="whatsapp",
        provider="meta",
        name="Meta WhatsApp",
        address="+15550001234",
        credentials={"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET},
        settings={"api_base": fake.url, "phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID},
    )
    assert channel_templates_sync(channel=channel, actor=Actor.system("test"), now=T0)[0]
    return channel


def test_the_node_panel_lists_only_approved_templates(workspace, marketer, meta):
    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Reminders")
    response = client_for(marketer).post(
        reverse("editor_node_form", args=[journey.pk]),
        {"type": "message.send", "node": "n1", "config": json.dumps({"channel": "whatsapp"})},
    )
    html = response.content.decode()
    assert 'value="payment_reminder|en_US"' in html and "payment_reminder (en_US, utility)" in html
    assert 'value="login_code|en_US"' in html
    assert "spring_offer" not in html and "card_dispatched" not in html  # rejected, pending
    # choosing one and typing its values (one per line) reads back into the config
    response = client_for(marketer).post(
        reverse("editor_node_form", args=[journey.pk]),
        {
            "type": "message.send",
            "node": "n1",
            "config": json.dumps({"channel": "whatsapp", "template": {"en": "Hi"}}),
            "apply": "1",
            "cfg-wa_template": "payment_reminder|en_US",
            "cfg-wa_template_variables": "{{contact.first_name}}\n£120.00\n\n5 March\n",
        },
    )
    config = json.loads(response.context["config_json"])
    assert config["wa_template"] == "payment_reminder|en_US"
    assert config["wa_template_variables"] == ["{{contact.first_name}}", "£120.00", "5 March"]


def test_a_journey_sends_the_template_with_its_values_outside_the_window(
    workspace, meta, fake, publish, fire, engine
):
    contact = ContactFactory(workspace=workspace, first_name="Ada", phone="+447911123456")
    contact.addresses = {"whatsapp": "+447911123456"}
    contact.save()
    fire(ContactFactory(workspace=workspace), "payment.due", now=T0 - dt.timedelta(hours=1))  # a known event
    publish(
        graph(
            trigger=node("trigger.event", {"event": "payment.due"}, next="remind"),
            remind=node("message.send", STEP, next=None, failed=None),
        )
    )
    fire(contact, "payment.due", now=T0)
    engine(T0)
    dispatch_pending(now=T0)
    message = Message.objects.get(contact=contact, direction="out")
    assert message.status == "sent", (message.status, message.error_code, message.error_reason)
    [sent] = fake.sends()
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "payment_reminder"
    assert sent["template"]["language"] == {"code": "en_US"}
    assert [p["text"] for p in sent["template"]["components"][0]["parameters"]] == [
        "Ada",
        "£120.00",
        "5 March",
    ]
