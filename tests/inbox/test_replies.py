"""Agent replies go through the one send pipeline as a person's send: consent blocks them with
the reason shown, the WhatsApp window asks for a template, a scheduled reply waits, and a reply
that goes reaches the phone."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels_app.models import Message, SandboxDelivery
from consent.services import consent_change
from cpaas.tenancy import Actor
from inbox import services
from inbox.models import Conversation, Reply
from tests.inbox.conftest import inbound

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_actor(admin_user):
    return Actor.for_user(admin_user)


@pytest.fixture
def conversation(contact):
    inbound(contact, "Where is my refund?", now=timezone.now() - dt.timedelta(minutes=10))
    return Conversation.objects.get(contact=contact)


def _opt_out(contact, kind="sms", purpose="transactional"):
    consent_change(contact=contact, channel_kind=kind, purpose=purpose, status="opted_out",
                   actor=Actor.system("test"), method="keyword", reason="STOP", at=timezone.now())  # fmt: skip


def test_a_reply_is_a_person_s_message_through_the_pipeline_and_reaches_the_phone(
    conversation, agent_actor, admin_user
):
    from channels_app.services.dispatch import dispatch_pending

    message = services.reply_send(actor=agent_actor, conversation=conversation, text="Refund sent today")
    assert message.sent_by == "person" and message.origin == "agent" and message.kind == "sms"
    assert message.status == "queued" and message.reply_to.text == "Where is my refund?"
    assert Reply.objects.get(message=message).author == admin_user
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None and conversation.waiting_since is None
    dispatch_pending(now=timezone.now())
    message.refresh_from_db()
    assert message.status in ("sent", "delivered")
    assert SandboxDelivery.objects.filter(reference=message.reference).exists()


def test_an_opted_out_contact_gets_a_blocked_message_with_the_reason_and_no_first_response(
    conversation, agent_actor
):
    _opt_out(conversation.contact)
    preview = services.reply_preview(conversation=conversation, channel_kind="sms")
    assert preview.outcome == "deny" and preview.reason
    message = services.reply_send(actor=agent_actor, conversation=conversation, text="Hello?")
    assert message.status == "blocked"
    assert message.error_reason == preview.reason and message.consent_rule == preview.rule
    conversation.refresh_from_db()
    assert conversation.first_response_at is None and conversation.waiting_since is not None
    assert not SandboxDelivery.objects.filter(reference=message.reference).exists()


def test_outside_the_whatsapp_window_free_text_is_refused_and_a_template_goes(
    workspace, contact, agent_actor
):
    contact.addresses = {"whatsapp": contact.phone}
    contact.save()
    old = timezone.now() - dt.timedelta(days=3)
    inbound(contact, "Hi on WhatsApp", kind="whatsapp", now=old)
    conversation = Conversation.objects.get(contact=contact)
    preview = services.reply_preview(conversation=conversation, channel_kind="whatsapp")
    assert preview.template_required and preview.rule == "whatsapp.window"
    assert not services.reply_preview(
        conversation=conversation, channel_kind="whatsapp", is_template=True
    ).template_required
    message = services.reply_send(
        actor=agent_actor, conversation=conversation, channel_kind="whatsapp", text="Hi"
    )
    assert message.status == "blocked" and message.consent_rule == "whatsapp.window"
    message = services.reply_send(
        actor=agent_actor, conversation=conversation, channel_kind="whatsapp",
        template="payment_reminder", variables={"1": "Ada"},
    )  # fmt: skip
    assert message.status != "blocked", message.error_reason
    assert message.content["template"]["name"] == "payment_reminder"


def test_a_reply_inside_the_window_defaults_to_the_customer_s_last_channel(workspace, contact, agent_actor):
    contact.addresses = {"whatsapp": contact.phone}
    contact.save()
    inbound(contact, "Hi on WhatsApp", kind="whatsapp", now=timezone.now() - dt.timedelta(minutes=1))
    conversation = Conversation.objects.get(contact=contact)
    assert services.default_channel(conversation) == "whatsapp"
    message = services.reply_send(actor=agent_actor, conversation=conversation, text="Hello there")
    assert message.kind == "whatsapp" and message.status == "queued"


def test_a_scheduled_reply_waits_until_its_time_then_consent_decides_again(conversation, agent_actor):
    from channels_app.services.dispatch import deferred_release

    at = timezone.now() + dt.timedelta(hours=2)
    message = services.reply_send(
        actor=agent_actor, conversation=conversation, text="Good morning", send_at=at
    )
    assert message.status == "deferred" and message.due_at == at
    assert "scheduled for" in message.status_events.get().detail
    _opt_out(conversation.contact)  # meanwhile the contact opts out
    deferred_release(now=at + dt.timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == "blocked"
    with pytest.raises(ValidationError) as caught:
        services.reply_send(
            actor=agent_actor,
            conversation=conversation,
            text="x",
            send_at=timezone.now() - dt.timedelta(minutes=1),
        )
    assert "send_at" in caught.value.message_dict


def test_a_failed_reply_may_be_retried_a_message_of_unknown_outcome_may_not(conversation, agent_actor):
    first = services.reply_send(actor=agent_actor, conversation=conversation, text="Hello?")
    Message.objects.filter(pk=first.pk).update(
        status="failed", error_reason="Carrier rejected"
    )  # the provider said
    first.refresh_from_db()
    again = services.reply_retry(actor=agent_actor, conversation=conversation, message=first)
    assert again.pk != first.pk and again.text == "Hello?" and again.status == "queued"
    Message.objects.filter(pk=again.pk).update(status="unknown")
    again.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        services.reply_retry(actor=agent_actor, conversation=conversation, message=again)
    assert "may have arrived" in caught.value.messages[0]


def test_a_resolved_conversation_takes_no_reply_and_empty_replies_are_refused(conversation, agent_actor):
    with pytest.raises(ValidationError) as caught:
        services.reply_send(actor=agent_actor, conversation=conversation, text="   ")
    assert "text" in caught.value.message_dict
    services.conversation_resolve(actor=agent_actor, conversation=conversation)
    with pytest.raises(ValidationError):
        services.reply_send(actor=agent_actor, conversation=conversation, text="Hello")
    assert not Reply.objects.exists()


def test_canned_replies_render_merge_fields(workspace, contact, agent_actor, admin_user):
    canned = services.canned_reply_save(
        actor=agent_actor, workspace=workspace, shortcut="/Refund",
        body="Hi {{contact.first_name|there}}, {{agent.name}} here: your refund is on its way.",
    )  # fmt: skip
    assert canned.shortcut == "refund"
    text = services.canned_reply_render(canned=canned, contact=contact, agent=admin_user)
    assert text == f"Hi Ada, {admin_user.get_username()} here: your refund is on its way."
    with pytest.raises(ValidationError) as caught:
        services.canned_reply_save(actor=agent_actor, workspace=workspace, shortcut="refund", body="again")
    assert "/refund exists already" in caught.value.messages[0]


def test_an_agent_s_own_reply_does_not_mark_the_conversation_unread_for_them(
    conversation, agent_actor, admin_user
):
    from inbox.selectors import Viewer, unread

    viewer = Viewer(conversation.workspace, admin_user, True)
    assert unread(viewer, [conversation]) == {conversation.pk}
    services.reply_send(actor=agent_actor, conversation=conversation, text="On it")
    conversation.refresh_from_db()
    assert unread(viewer, [conversation]) == set()
    inbound(conversation.contact, "Thanks!", now=timezone.now() + dt.timedelta(seconds=5))
    conversation.refresh_from_db()
    assert unread(viewer, [conversation]) == {conversation.pk}
