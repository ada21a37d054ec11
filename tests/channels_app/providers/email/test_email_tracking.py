"""ESP tracking webhooks, checked and parsed by anymail's own webhook views with each channel's
secrets: delivered, opened and clicked in any order (late and repeated ones change nothing), a
hard bounce fails the message and suppresses the address, a complaint suppresses it, an
unsubscribe at the ESP is an opt-out; a bad, tampered or missing signature is 403 and nothing is
stored."""

import base64
import hashlib
import hmac
import json

import pytest

from channels_app.models import Message, MessageStatusEvent
from channels_app.providers.email.fake import MAILGUN_SIGNING_KEY, fixture
from consent.models import ConsentEvent, ConsentRecord, Suppression
from consent.services import check

from ...conftest import at, drain
from .test_email_send import send

pytestmark = pytest.mark.django_db
S = Message.Status


def sent(workspace, contact):
    message = send(workspace, contact)
    drain(0)
    return Message.objects.get(pk=message.pk)


def _body(name: str, message: Message, message_id: str | None = None) -> dict:
    raw = fixture(name).decode().replace("REF", message.reference)
    return json.loads(raw.replace("MID", (message_id or message.provider_message_id).strip("<>")))


def mailgun_post(client, channel, body: dict, key: str = MAILGUN_SIGNING_KEY, signature: str | None = None):
    block = body["signature"]
    block["signature"] = (
        signature
        if signature is not None
        else hmac.new(
            key.encode(), f"{block['timestamp']}{block['token']}".encode(), hashlib.sha256
        ).hexdigest()
    )
    return client.post(
        f"/webhooks/mailgun/{channel.webhook_token}/status/",
        data=json.dumps(body),
        content_type="application/json",
    )


def postmark_post(client, channel, body: dict, password: str | None = None):
    password = channel.credentials["webhook_password"] if password is None else password
    headers = (
        {"Authorization": "Basic " + base64.b64encode(f"postmark:{password}".encode()).decode()}
        if password
        else {}
    )
    return client.post(
        f"/webhooks/postmark/{channel.webhook_token}/status/",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def history(message):
    return list(
        MessageStatusEvent.objects.filter(message=message, source="webhook").values_list("status", "applied")
    )


# --- Mailgun ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order, final",
    [
        (["delivered", "opened", "clicked"], S.READ),
        (
            ["clicked", "opened", "delivered"],
            S.READ,
        ),  # engagement first: delivery is implied, late one ignored
        (["opened", "opened", "delivered", "delivered"], S.READ),  # repeats
    ],
)
def test_mailgun_events_in_any_order(client, workspace, contact, mailgun, mailgun_api, order, final):
    message = sent(workspace, contact)
    for name in order:
        assert mailgun_post(client, mailgun, _body(f"mailgun_{name}.json", message)).status_code == 200
    m = Message.objects.get(pk=message.pk)
    assert m.status == final
    assert sum(applied for _, applied in history(m)) <= 2  # delivered and read at most, once each


def test_a_mailgun_event_before_the_send_is_recorded_finds_the_message_by_our_reference(
    client, workspace, contact, mailgun
):
    message = send(workspace, contact)
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, claim_token="w1")
    body = _body("mailgun_delivered.json", message, message_id="<unknown-yet@mail.demobank.example>")
    assert mailgun_post(client, mailgun, body).status_code == 200
    assert Message.objects.get(pk=message.pk).status == S.DELIVERED


def test_a_mailgun_hard_bounce_fails_the_message_and_suppresses_the_address(
    client, workspace, contact, mailgun, mailgun_api
):
    message = sent(workspace, contact)
    body = _body("mailgun_failed_permanent.json", message)
    assert mailgun_post(client, mailgun, body).status_code == 200
    assert mailgun_post(client, mailgun, body).status_code == 200  # Mailgun retries: nothing doubles
    m = Message.objects.get(pk=message.pk)
    assert (m.status, m.error_code) == (S.FAILED, "hard_bounce") and "does not exist" in m.error_reason
    [entry] = Suppression.objects.filter(workspace=workspace)
    assert (entry.channel_kind, entry.reason, entry.contact) == ("email", "bounce", contact)
    assert "Mailgun reported a hard bounce" in entry.note
    decision = check(contact, "email", "transactional", at(60))
    assert decision.outcome == "deny" and decision.rule == "suppression"
    assert check(contact, "sms", "transactional", at(60)).outcome == "allow"  # only email


def test_a_mailgun_complaint_suppresses_the_address_and_keeps_the_delivery(
    client, workspace, contact, mailgun, mailgun_api
):
    message = sent(workspace, contact)
    mailgun_post(client, mailgun, _body("mailgun_delivered.json", message))
    assert mailgun_post(client, mailgun, _body("mailgun_complained.json", message)).status_code == 200
    assert Message.objects.get(pk=message.pk).status == S.DELIVERED
    assert Suppression.objects.get(workspace=workspace).reason == "complaint"


@pytest.mark.parametrize("how", ["wrong key", "tampered signature", "missing signature"])
def test_a_bad_mailgun_signature_is_403_and_stores_nothing(
    client, workspace, contact, mailgun, mailgun_api, how
):
    message = sent(workspace, contact)
    body = _body("mailgun_failed_permanent.json", message)
    if how == "wrong key":
        response = mailgun_post(client, mailgun, body, key="not-the-key")
    elif how == "tampered signature":
        response = mailgun_post(client, mailgun, body, signature="0" * 64)
    else:
        del body["signature"]
        response = client.post(
            f"/webhooks/mailgun/{mailgun.webhook_token}/status/",
            data=json.dumps(body),
            content_type="application/json",
        )
    assert response.status_code == 403
    assert Message.objects.get(pk=message.pk).status == S.SENT
    assert (
        not Suppression.objects.exists() and not MessageStatusEvent.objects.filter(source="webhook").exists()
    )


# --- Postmark -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order", [["delivery", "open", "click"], ["click", "delivery", "open"], ["open", "delivery", "delivery"]]
)
def test_postmark_events_in_any_order(client, workspace, contact, postmark, postmark_api, order):
    message = sent(workspace, contact)
    for name in order:
        assert postmark_post(client, postmark, _body(f"postmark_{name}.json", message)).status_code == 200
    assert Message.objects.get(pk=message.pk).status == S.READ


def test_a_postmark_hard_bounce_suppresses_a_soft_one_does_not(
    client, workspace, contact, postmark, postmark_api
):
    soft = sent(workspace, contact)
    postmark_post(client, postmark, _body("postmark_bounce_soft.json", soft))
    assert Message.objects.get(pk=soft.pk).error_code == "soft_bounce" and not Suppression.objects.exists()
    hard = sent(workspace, contact)
    postmark_post(client, postmark, _body("postmark_bounce_hard.json", hard))
    m = Message.objects.get(pk=hard.pk)
    assert (m.status, m.error_code) == (S.FAILED, "hard_bounce")
    assert Suppression.objects.get(workspace=workspace).reason == "bounce"


def test_a_postmark_spam_complaint_suppresses(client, workspace, contact, postmark, postmark_api):
    message = sent(workspace, contact)
    assert postmark_post(client, postmark, _body("postmark_spam_complaint.json", message)).status_code == 200
    assert Suppression.objects.get(workspace=workspace).reason == "complaint"


def test_a_postmark_unsubscribe_is_an_opt_out_of_the_messages_purpose(
    client, workspace, contact, postmark, postmark_api
):
    message = sent(workspace, contact)
    body = _body("postmark_subscription_change.json", message)
    assert postmark_post(client, postmark, body).status_code == 200
    assert postmark_post(client, postmark, body).status_code == 200  # repeated: one event
    record = ConsentRecord.objects.get(contact=contact, channel_kind="email", purpose="marketing")
    assert record.status == "opted_out"
    [event] = ConsentEvent.objects.filter(contact=contact, new_status="opted_out")
    assert "Postmark" in event.reason and event.notice_text.startswith("Postmark unsubscribe event")


@pytest.mark.parametrize("password", ["wrong", ""])
def test_postmark_without_the_webhook_password_is_403_and_stores_nothing(
    client, workspace, contact, postmark, postmark_api, password
):
    message = sent(workspace, contact)
    response = postmark_post(client, postmark, _body("postmark_bounce_hard.json", message), password=password)
    assert response.status_code == 403
    assert Message.objects.get(pk=message.pk).status == S.SENT and not Suppression.objects.exists()


def test_a_malformed_or_unmatchable_postmark_event_stores_nothing(client, workspace, contact, postmark):
    from channels_app.models import PendingReceipt

    auth = base64.b64encode(f"postmark:{postmark.credentials['webhook_password']}".encode()).decode()
    url = f"/webhooks/postmark/{postmark.webhook_token}/status/"
    response = client.post(
        url, data=b"not json", content_type="application/json", headers={"Authorization": f"Basic {auth}"}
    )
    assert response.status_code == 400
    # a delivery that names no message (neither Postmark's id nor our reference): nothing to keep
    assert (
        postmark_post(
            client, postmark, {"RecordType": "Delivery", "Recipient": "ada@example.com"}
        ).status_code
        == 200
    )
    assert (
        not PendingReceipt.objects.exists()
        and not MessageStatusEvent.objects.filter(source="webhook").exists()
    )


def test_smtp_takes_no_webhook(client, workspace, smtp):
    response = client.post(
        f"/webhooks/smtp/{smtp.webhook_token}/status/", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 403
