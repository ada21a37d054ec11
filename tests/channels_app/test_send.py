"""The send service and the message lifecycle on the sandbox provider."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from channels_app.models import Channel, Message, SandboxDelivery
from channels_app.providers.base import StatusUpdate
from channels_app.services.messages import IdempotencyConflict, message_send, message_send_batch
from channels_app.services.status import statuses_apply
from tests.factories import ContactFactory

from .conftest import at, drain

pytestmark = pytest.mark.django_db
S = Message.Status


def send(workspace, contact, **kw):
    kw.setdefault("channel", "sms")
    kw.setdefault("content", {"text": "Your parcel arrives today."})
    return message_send(workspace=workspace, contact=contact, now=kw.pop("now", at(0)), **kw)


def history(message):
    from channels_app.selectors import message_history

    message = Message.objects.get(pk=message.pk)
    return [(e.status, e.applied) for e in message_history(workspace=message.workspace, message=message)]


def test_a_new_workspace_starts_with_a_sandbox_channel_of_every_kind(workspace):
    kinds = set(
        Channel.objects.filter(workspace=workspace, provider="sandbox").values_list("kind", flat=True)
    )
    assert kinds == {"sms", "whatsapp", "rcs", "voice", "email", "viber", "messenger", "push"}
    sms = Channel.objects.get(workspace=workspace, kind="sms")
    assert sms.credentials["secret"]  # a signing secret, stored encrypted
    assert sms.credentials["secret"] not in sms.credentials_encrypted


def test_lifecycle_queued_sent_delivered_read(workspace, contact, channels):
    # given a message accepted by consent
    message = send(workspace, contact)
    assert message.status == S.QUEUED
    assert (message.segments, message.encoding) == (1, "gsm7")
    assert not SandboxDelivery.objects.exists()  # nothing goes out before the dispatcher runs

    # when the dispatcher runs, the sandbox receives it once and it is sent
    drain(1)
    message.refresh_from_db()
    assert message.status == S.SENT and message.sent_at == at(1)
    delivery = SandboxDelivery.objects.get()
    assert delivery.to_address == "+447911123456"
    assert delivery.content["text"] == "Your parcel arrives today."
    assert message.provider_message_id == message.reference

    # then the sandbox's receipt (after its delay) marks it delivered: a receipt, not a guess
    drain(1.2)
    message.refresh_from_db()
    assert message.status == S.SENT
    drain(2)
    message.refresh_from_db()
    assert message.status == S.DELIVERED and message.delivered_at == at(2)

    # and a read receipt moves it on
    statuses_apply(
        channel=channels["sms"],
        updates=[StatusUpdate(status="read", provider_message_id=message.reference)],
        now=at(5),
    )
    message.refresh_from_db()
    assert message.status == S.READ and message.read_at == at(5)
    assert history(message) == [
        ("queued", True),
        ("sent", True),
        ("delivered", True),
        ("read", True),
    ]


def test_out_of_order_receipts_never_move_a_status_back(workspace, contact, channels):
    message = send(workspace, contact, options={"sandbox": {"receipt": "none"}})
    drain(1)
    sms = channels["sms"]
    pid = Message.objects.get(pk=message.pk).provider_message_id

    def receipt(status, second):
        statuses_apply(
            channel=sms, updates=[StatusUpdate(status=status, provider_message_id=pid)], now=at(second)
        )
        return Message.objects.get(pk=message.pk)

    assert receipt("delivered", 3).status == S.DELIVERED
    # a late "sent" arrives after "delivered": ignored, but kept in the history
    late = receipt("sent", 4)
    assert late.status == S.DELIVERED and late.delivered_at == at(3)
    # the same receipt replayed changes nothing
    assert receipt("delivered", 6).delivered_at == at(3)
    assert receipt("read", 7).status == S.READ
    assert receipt("delivered", 8).status == S.READ
    # a failure after delivery is not believed either
    assert receipt("failed", 9).status == S.READ
    assert history(late)[-1] == ("failed", False)
    assert [a for _, a in history(late)].count(False) == 4


def test_a_receipt_that_beats_the_dispatcher_is_kept(workspace, contact, channels):
    # given a message the provider delivered before our worker recorded the hand-over
    message = send(workspace, contact)
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, claim_token="t1")
    statuses_apply(
        channel=channels["sms"],
        updates=[StatusUpdate(status="delivered", reference=message.reference, provider_message_id="X1")],
        now=at(1),
    )
    # when the worker records "sent" afterwards, it does not overwrite the receipt
    from channels_app.providers.base import SendResult
    from channels_app.services.dispatch import record

    record(
        channel=channels["sms"],
        messages=[message],
        results=[SendResult.accepted("X1")],
        now=at(2),
        token="t1",
    )
    message.refresh_from_db()
    assert message.status == S.DELIVERED and message.provider_message_id == "X1"
    # and the history holds no "sent" the dispatcher did not really record
    assert not message.status_events.filter(status=S.SENT, source="dispatcher").exists()


def test_same_idempotency_key_twice_is_one_message_and_one_provider_call(workspace, contact):
    first = send(workspace, contact, idempotency_key="order-42-shipped")
    again = send(workspace, contact, idempotency_key="order-42-shipped", content={"text": "different"})
    assert again.pk == first.pk
    drain(1)
    send(workspace, contact, idempotency_key="order-42-shipped", now=at(2))
    drain(3)
    assert Message.objects.count() == 1
    assert SandboxDelivery.objects.count() == 1


def test_an_idempotency_key_used_for_another_contact_is_a_conflict(workspace, contact):
    send(workspace, contact, idempotency_key="k1")
    other = ContactFactory(workspace=workspace)
    with pytest.raises(IdempotencyConflict):
        send(workspace, other, idempotency_key="k1")


def test_nothing_is_dispatched_when_the_transaction_rolls_back(workspace, contact):
    with pytest.raises(RuntimeError), transaction.atomic():
        send(workspace, contact)
        raise RuntimeError("the caller failed after sending")
    drain(1)
    assert not Message.objects.exists() and not SandboxDelivery.objects.exists()


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"channel": "fax"}, "channel", "Unknown channel 'fax'"),
        ({"channel": 999999}, "channel", "not found in this workspace"),
        ({"purpose": "spam"}, "purpose", "Unknown purpose"),
        ({"content": {}}, "content", "Nothing to send"),
        ({"content": {"txt": "typo"}}, "content.txt", "Unknown field"),
        ({"content": {"text": "x" * 1601}}, "content.text", "at most 1,600"),
        ({"content": {"text": "hi", "media_url": "ftp://x"}}, "content.media_url", "http(s)"),
        (
            {"channel": "whatsapp", "content": {"text": "?", "buttons": ["a", "b", "c", "d"]}},
            "content.buttons",
            "at most 3",
        ),
        (
            {"channel": "voice", "content": {"text": "hi", "media_url": "https://e.com/a.png"}},
            "content.media_url",
            "cannot carry media",
        ),
        ({"channel": "push"}, "contact", "no push address"),
        ({"fallback": ["sms", "pigeon"]}, "fallback", "Unknown channel kind"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_written(workspace, contact, kw, field, words):
    with pytest.raises(ValidationError) as exc:
        send(workspace, contact, **kw)
    assert words in " ".join(exc.value.message_dict[field])
    assert not Message.objects.exists()


def test_a_disabled_channel_is_refused(workspace, contact, channels):
    Channel.objects.filter(pk=channels["sms"].pk).update(status="disabled")
    with pytest.raises(ValidationError, match="No active sms channel"):
        send(workspace, contact)


def test_buttons_on_sms_become_numbered_options_in_the_text(workspace, contact):
    message = send(
        workspace, contact, content={"text": "Pay now?", "buttons": [{"id": "yes", "title": "Yes"}, "No"]}
    )
    assert message.text == "Pay now?\n\n1. Yes\n2. No\nReply with the number."
    assert message.content["text_options"] == [{"id": "yes", "title": "Yes"}, {"id": "No", "title": "No"}]
    assert "buttons sent as numbered options in the text on sms" in message.content_notes


def test_whatsapp_keeps_buttons_and_templates(workspace, contact):
    message = send(
        workspace,
        contact,
        channel="whatsapp",
        content={
            "text": "Pay?",
            "buttons": ["Yes", "No"],
            "template": {"name": "pay_reminder", "variables": {"1": "£20"}},
        },
    )
    assert message.kind == "whatsapp" and message.address == "+447911123456"
    assert message.content["buttons"] == [{"id": "Yes", "title": "Yes"}, {"id": "No", "title": "No"}]
    assert message.content["template"]["name"] == "pay_reminder"
    assert message.segments == 0  # only SMS is billed in segments


def test_preferred_channel_uses_the_contacts_preference_then_what_they_can_receive(workspace):
    wa = ContactFactory(
        workspace=workspace, preferred_channel="whatsapp", addresses={"whatsapp": "+447911000001"}
    )
    email_only = ContactFactory(workspace=workspace, phone=None, email="e@example.com")
    assert send(workspace, wa, channel="preferred").kind == "whatsapp"
    assert send(workspace, email_only, channel="preferred").kind == "email"


def test_ucs2_segments_are_counted_for_sms(workspace, contact):
    message = send(workspace, contact, content={"text": "Merci 🙂 " * 10})
    assert message.encoding == "ucs2" and message.segments == 2


def test_batch_send_uses_a_bounded_number_of_queries(workspace, django_assert_max_num_queries):
    from contacts.models import Contact

    ContactFactory.create_batch(5, workspace=workspace)
    few = list(Contact.objects.filter(workspace=workspace))
    with django_assert_max_num_queries(16) as small:
        message_send_batch(
            workspace=workspace,
            contacts=few,
            channel="sms",
            content={"text": "Hi"},
            now=at(0),
            idempotency_key="b1",
        )
    ContactFactory.create_batch(60, workspace=workspace)
    many = list(Contact.objects.filter(workspace=workspace))
    with django_assert_max_num_queries(20) as large:
        messages, skipped = message_send_batch(
            workspace=workspace,
            contacts=many,
            channel="sms",
            content={"text": "Hi"},
            now=at(1),
            idempotency_key="b2",
        )

    def kinds(ctx):
        sql = [q["sql"].split()[0] for q in ctx.captured_queries]
        return sql.count("SELECT"), sql.count("INSERT")

    def reservations(ctx):
        return sum("nextval" in q["sql"] for q in ctx.captured_queries)

    # reads do not grow with the number of contacts; writes are one insert of messages (plus
    # one of status events when consent refuses some); SQLite splits an insert at its
    # 999-parameter limit, so there it may take a few. On PostgreSQL the insert is one COPY
    # (which the query log does not show) after one query reserving the ids.
    assert kinds(large)[0] == kinds(small)[0]
    if connection.vendor == "postgresql":
        assert reservations(large) == reservations(small) == 1
        assert kinds(large)[1] == kinds(small)[1] == 0
    assert len(messages) == 65 and not skipped
    # the same batch again sends nothing new
    again, _ = message_send_batch(
        workspace=workspace,
        contacts=many,
        channel="sms",
        content={"text": "Hi"},
        now=at(2),
        idempotency_key="b2",
    )
    assert len(again) == 65 and Message.objects.count() == 70


def test_batch_skips_contacts_without_an_address_and_says_why(workspace):
    reachable = ContactFactory(workspace=workspace)
    unreachable = ContactFactory(workspace=workspace, phone=None, email="x@example.com")
    messages, skipped = message_send_batch(
        workspace=workspace,
        contacts=[reachable, unreachable],
        channel="sms",
        content={"text": "Hi"},
        now=at(0),
    )
    assert [m.contact_id for m in messages] == [reachable.pk]
    assert "no phone number" in skipped[unreachable.pk]


def test_a_workspace_without_channels_gets_its_sandbox_channels_on_first_send(workspace, contact):
    Channel.objects.filter(workspace=workspace).delete()  # as if it predates the messaging core
    message = send(workspace, contact)
    assert message.channel.provider == "sandbox" and message.kind == "sms"
    assert Channel.objects.filter(workspace=workspace).count() == 8
