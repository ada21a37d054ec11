"""The phone simulator in a real browser against the app as `make run` serves it (daphne, the
django-q2 worker and the message dispatcher as separate processes): a message sent through the
API appears on the contact's phone live, with its delivery ticks; the contact's reply typed in
the simulator appears in the messages log; a button pressed on WhatsApp reaches the pipeline."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from channels_app.models import Message
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


def api_send(server, token, body: dict) -> dict:
    request = urllib.request.Request(
        server.url + "/api/v1/messages/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)
        return json.loads(response.read())


def test_an_api_message_appears_in_the_simulator_and_the_reply_in_the_messages_log(
    server, login, admin_user, workspace, api_token
):
    contact = ContactFactory(workspace=workspace, first_name="Nia", last_name="Okafor", phone="+447911123456")
    # given the contact's phones open in the simulator, connected live
    page = login(admin_user, f"/simulator/?contact={contact.pk}&kind=sms")
    expect(page.locator("html[data-live=connected]")).to_have_count(1)
    expect(page.locator("#phone-sms")).to_be_visible()

    # when another system sends a message through the API
    sent = api_send(
        server,
        api_token,
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "Your parcel arrives today 🚚"}},
    )

    # then it appears on the SMS phone without a reload; the sandbox's receipt ticks it, and as
    # the phone is open the contact reads it (blue ticks)
    bubble = page.locator(f"#bubble-{sent['id']}")
    expect(bubble).to_contain_text("Your parcel arrives today", timeout=10000)
    expect(bubble.locator(".ticks")).to_have_attribute("data-status", "read", timeout=10000)
    assert Message.objects.get(pk=sent["id"]).delivered_at is not None  # a receipt said so first

    # when the contact types a reply in the simulator
    page.get_by_label("Reply as Nia Okafor on SMS").fill("Thanks! Leave it with the neighbour")
    page.locator("#phone-sms").get_by_role("button", name="Send").click()
    expect(page.locator("#bubbles-sms .from-contact")).to_contain_text("Leave it with the neighbour")

    # then the reply is in the messages log
    page.get_by_role("link", name="Messages", exact=True).click()
    expect(page.locator("#results tbody tr").first).to_contain_text("Leave it with the neighbour")
    expect(page.locator("#results tbody tr").first).to_contain_text("Received")
    inbound = Message.objects.get(direction="in")
    assert inbound.contact_id == contact.pk and inbound.kind == "sms"
    server.assert_alive()


def test_a_whatsapp_button_pressed_in_the_simulator(server, login, admin_user, workspace, api_token):
    contact = ContactFactory(workspace=workspace, first_name="Ola", last_name="Ade", phone="+447911123457")
    page = login(admin_user, f"/simulator/?contact={contact.pk}&kind=sms")
    expect(page.locator("html[data-live=connected]")).to_have_count(1)
    # switch to the WhatsApp phone (no reload)
    page.get_by_role("tab", name="WhatsApp").click()
    expect(page.locator("#phone-whatsapp")).to_be_visible()

    api_send(
        server,
        api_token,
        {
            "contact_id": contact.pk,
            "channel": "whatsapp",
            "content": {
                "text": "Pick a delivery slot",
                "buttons": ["Morning", "Afternoon"],
                "template": {"name": "slot_picker"},
            },
        },
    )
    page.locator("#bubbles-whatsapp").get_by_role("button", name="Afternoon").click(timeout=10000)
    expect(page.locator("#bubbles-whatsapp .from-contact")).to_contain_text("Afternoon")
    expect(page.locator("#bubbles-whatsapp .from-contact")).to_contain_text("pressed: Afternoon")
    # the business's message is read once the contact has seen it
    expect(page.locator("#bubbles-whatsapp .from-business .ticks")).to_have_attribute(
        "data-status", "read", timeout=10000
    )


def test_the_unread_dot_shows_only_on_a_tab_with_unread_messages(
    server, login, admin_user, workspace, api_token
):
    contact = ContactFactory(workspace=workspace, first_name="Ima", last_name="Udo", phone="+447911123458")
    page = login(admin_user, f"/simulator/?contact={contact.pk}&kind=sms")
    expect(page.locator("html[data-live=connected]")).to_have_count(1)
    # nothing unread: no dot on any tab (the CSS once showed them all, overriding `hidden`)
    expect(page.locator(".phone-tabs .unread:visible")).to_have_count(0)

    # a WhatsApp message while the SMS phone is shown: a dot on the WhatsApp tab only
    api_send(
        server,
        api_token,
        {
            "contact_id": contact.pk,
            "channel": "whatsapp",
            "content": {"text": "Hi", "template": {"name": "hello"}},
        },
    )
    expect(page.locator("#tab-whatsapp .unread")).to_be_visible(timeout=10000)
    expect(page.locator(".phone-tabs .unread:visible")).to_have_count(1)

    # opening that phone clears it
    page.get_by_role("tab", name="WhatsApp").click()
    expect(page.locator(".phone-tabs .unread:visible")).to_have_count(0)
