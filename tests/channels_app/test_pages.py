"""Pages: the phone simulator (replies through the real pipeline, sends as the business), the
messages log with filters and a message's history, and the channels admin."""

import datetime as dt

import pytest
from django.urls import reverse

from channels_app.models import Channel, Message
from channels_app.services.dispatch import dispatch_pending
from channels_app.services.messages import message_send
from contacts.models import Contact, Event
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
S = Message.Status
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def test_the_simulator_shows_a_phone_per_kind_with_what_reached_it(admin_client, workspace, contact):
    message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": "Your table is ready", "buttons": ["OK"]},
        now=NOW,
    )
    message_send(
        workspace=workspace, contact=contact, channel="email", content={"text": "Not yet sent"}, now=NOW
    )
    dispatch_pending(now=NOW)
    Message.objects.filter(kind="email").update(status=S.QUEUED, sent_at=None)  # as if still queued
    response = admin_client.get(reverse("simulator"), {"contact": contact.pk, "kind": "sms"})
    assert response.status_code == 200
    html = response.content.decode()
    for kind in ("sms", "whatsapp", "rcs", "voice", "email", "viber", "messenger", "push"):
        assert f'id="phone-{kind}"' in html
    assert "Your table is ready" in html and "1. OK" in html
    assert "Not yet sent" not in html  # a phone shows only what the provider handed it
    assert 'data-live-topic="simulator"' in html


def test_a_reply_typed_in_the_simulator_goes_through_the_inbound_pipeline(admin_client, workspace, contact):
    response = admin_client.post(
        reverse("simulator_reply"),
        {"contact": contact.pk, "kind": "whatsapp", "text": "On my way"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "On my way" in response.content.decode() and "from-contact" in response.content.decode()
    inbound = Message.objects.get(direction="in")
    assert (inbound.contact, inbound.kind, inbound.status) == (contact, "whatsapp", S.RECEIVED)
    assert Event.objects.filter(name="message.received", contact=contact).count() == 1


def test_a_button_pressed_in_the_simulator_arrives_with_its_id(admin_client, workspace, contact):
    admin_client.post(
        reverse("simulator_reply"),
        {"contact": contact.pk, "kind": "whatsapp", "text": "Morning", "button": "slot_am"},
    )
    assert Event.objects.get(name="message.received").properties["button"] == "slot_am"


def test_an_empty_reply_is_refused_with_a_message(admin_client, workspace, contact):
    response = admin_client.post(
        reverse("simulator_reply"), {"contact": contact.pk, "kind": "sms", "text": "  "}, follow=True
    )
    assert "Type a reply." in response.content.decode()
    assert not Message.objects.exists()


def test_sending_as_the_business_from_the_simulator(admin_client, workspace, contact):
    response = admin_client.post(
        reverse("simulator_send"),
        {
            "contact": contact.pk,
            "kind": "sms",
            "text": "Hello from the page",
            "purpose": "transactional",
            "buttons": "Yes, No",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "HX-Trigger" in response
    message = Message.objects.get()
    assert message.status == S.QUEUED and message.origin == "agent"
    assert message.text.startswith("Hello from the page")
    # and a blocked one says why
    response = admin_client.post(
        reverse("simulator_send"),
        {"contact": contact.pk, "kind": "sms", "text": "Sale", "purpose": "marketing"},
        headers={"HX-Request": "true"},
    )
    assert "needs explicit consent" in response["HX-Trigger"]


def test_the_simulator_creates_a_contact_to_play(admin_client, workspace):
    response = admin_client.post(
        reverse("simulator_contact_create"), {"name": "Zoe Ana Berg", "phone": "07911 123999", "kind": "sms"}
    )
    contact = Contact.objects.get(first_name="Zoe")
    assert (contact.last_name, contact.display_name) == ("Ana Berg", "Zoe Ana Berg")
    assert contact.phone == "+447911123999"
    assert response["Location"].endswith(f"?contact={contact.pk}&kind=sms")


def test_the_simulator_needs_the_simulator_permission(client, workspace, agent):
    client.force_login(agent)
    assert client.get(reverse("simulator")).status_code == 403


def test_the_messages_log_filters(admin_client, workspace, contact):
    other = ContactFactory(workspace=workspace, first_name="Other")
    message_send(
        workspace=workspace, contact=contact, channel="sms", content={"text": "Alpha parcel"}, now=NOW
    )
    message_send(
        workspace=workspace, contact=other, channel="email", content={"text": "Beta invoice"}, now=NOW
    )
    message_send(
        workspace=workspace,
        contact=other,
        channel="sms",
        content={"text": "Gamma offer"},
        purpose="marketing",
        now=NOW,
    )

    def shown(**params):
        html = admin_client.get(reverse("message_list"), params).content.decode()
        return {word for word in ("Alpha", "Beta", "Gamma") if word in html}

    assert shown() == {"Alpha", "Beta", "Gamma"}
    assert shown(contact=contact.pk) == {"Alpha"}
    assert shown(status="blocked") == {"Gamma"}
    assert shown(purpose="marketing") == {"Gamma"}
    email = Channel.objects.get(workspace=workspace, kind="email")
    assert shown(channel=email.pk) == {"Beta"}
    assert shown(q="invoice") == {"Beta"}
    assert shown(date_from="2026-03-03") == set()
    assert shown(date_from="2026-03-02", date_to="2026-03-02") == {"Alpha", "Beta", "Gamma"}
    partial = admin_client.get(
        reverse("message_list"), {"q": "alpha"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "<h1>" not in partial.content.decode() and "Alpha" in partial.content.decode()


def test_the_messages_log_reads_a_fixed_number_of_queries(
    admin_client, workspace, contact, django_assert_max_num_queries
):
    for i in range(3):
        message_send(workspace=workspace, contact=contact, channel="sms", content={"text": f"m{i}"}, now=NOW)
    admin_client.get(reverse("message_list"))  # the first request also stores the session's workspace
    with django_assert_max_num_queries(14) as few:
        admin_client.get(reverse("message_list"))
    for i in range(30):
        message_send(
            workspace=workspace,
            contact=ContactFactory(workspace=workspace),
            channel="sms",
            content={"text": f"n{i}"},
            now=NOW,
        )
    with django_assert_max_num_queries(14) as many:
        admin_client.get(reverse("message_list"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_messages_page_shows_every_status_change_and_the_consent_decision(admin_client, workspace, contact):
    message = message_send(
        workspace=workspace, contact=contact, channel="sms", content={"text": "Hi"}, now=NOW
    )
    dispatch_pending(now=NOW)
    dispatch_pending(now=NOW + dt.timedelta(seconds=2))
    html = admin_client.get(reverse("message_detail", args=[message.pk])).content.decode()
    for word in (
        "queued",
        "sent",
        "delivered",
        "Consent decision",
        "basis.contract",
        "SMS segments",
        "1 (GSM7)",
    ):
        assert word in html, word


def test_the_fallback_chain_is_shown_on_each_attempt(admin_client, workspace, contact):
    wa = message_send(
        workspace=workspace,
        contact=contact,
        channel="whatsapp",
        content={"text": "Hi"},
        fallback=["sms"],
        now=NOW,
    )
    html = admin_client.get(reverse("message_detail", args=[wa.pk])).content.decode()
    assert "Fallback chain" in html and "whatsapp.window" in html


def test_adding_a_twilio_channel_never_shows_the_token_back(admin_client, workspace):
    response = admin_client.post(
        reverse("channel_create") + "?provider=twilio",
        {
            "provider": "twilio",
            "kind": "sms",
            "name": "Twilio UK",
            "address": "+447700900001",
            "rate_limit_per_second": 10,
            "cred_account_sid": "AC0123456789abcdef0123456789abcdef",
            "cred_auth_token": "supersecrettoken1234567890abcdef",
        },
    )
    assert response.status_code == 302
    channel = Channel.objects.get(name="Twilio UK")
    assert channel.credentials["auth_token"] == "supersecrettoken1234567890abcdef"
    for url in (reverse("channel_list"), reverse("channel_edit", args=[channel.pk])):
        html = admin_client.get(url).content.decode()
        assert "supersecrettoken1234567890abcdef" not in html and "supe…cdef" in html
    # saving the edit form with the token blank keeps it
    admin_client.post(
        reverse("channel_edit", args=[channel.pk]),
        {
            "name": "Twilio UK",
            "address": "+447700900001",
            "rate_limit_per_second": 20,
            "cred_account_sid": "",
            "cred_auth_token": "",
        },
    )
    channel.refresh_from_db()
    assert channel.rate_limit_per_second == 20
    assert channel.credentials["auth_token"] == "supersecrettoken1234567890abcdef"


def test_a_channel_form_shows_errors_next_to_fields(admin_client, workspace):
    response = admin_client.post(
        reverse("channel_create") + "?provider=twilio",
        {"provider": "twilio", "kind": "email", "name": "", "address": "", "rate_limit_per_second": 0},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html or "Give the channel a name." in html
    assert not Channel.objects.filter(provider="twilio").exists()
    response = admin_client.post(
        reverse("channel_create") + "?provider=twilio",
        {"provider": "twilio", "kind": "email", "name": "T", "address": "x", "rate_limit_per_second": 5},
    )
    assert "does not carry email" in response.content.decode()
    assert "Required." in response.content.decode()  # the credentials


def test_disabling_and_testing_a_channel(admin_client, workspace):
    sms = Channel.objects.get(workspace=workspace, kind="sms")
    admin_client.post(reverse("channel_toggle", args=[sms.pk]))
    assert Channel.objects.get(pk=sms.pk).status == "disabled"
    response = admin_client.post(reverse("channel_test", args=[sms.pk]), follow=True)
    assert "The sandbox is ready" in response.content.decode()


def test_only_admins_manage_channels(marketer_client, workspace):
    assert marketer_client.get(reverse("channel_list")).status_code == 403


@pytest.mark.parametrize("name", ["simulator_reply", "simulator_read", "simulator_send"])
def test_simulator_posts_about_another_workspaces_contact_are_404(
    name, other_client, workspace, contact, other_admin
):
    response = other_client.post(
        reverse(name), {"contact": contact.pk, "kind": "sms", "text": "hi", "purpose": "transactional"}
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_the_simulator_never_opens_another_workspaces_contact(other_client, workspace, contact, other_admin):
    assert other_client.get(reverse("simulator"), {"contact": contact.pk}).status_code == 404


@pytest.mark.parametrize(
    "api_base",
    ["http://169.254.169.254/latest", "http://localhost:8080", "http://[::ffff:10.0.0.1]", "ftp://x"],
)
def test_a_private_api_base_is_a_field_error(admin_client, workspace, api_base):
    response = admin_client.post(
        reverse("channel_create") + "?provider=twilio",
        {"provider": "twilio", "kind": "sms", "name": "Twilio", "address": "+447700900001",
         "rate_limit_per_second": 10, "cred_account_sid": "AC0123456789abcdef0123456789abcdef",
         "cred_auth_token": "supersecrettoken1234567890abcdef", "set_api_base": api_base},
    )  # fmt: skip
    assert response.status_code == 400
    assert "api_base: " in response.content.decode()
    assert not Channel.objects.filter(provider="twilio").exists()
