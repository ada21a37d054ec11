"""Sending email through SMTP, Mailgun and Postmark (local servers playing each): what the
recipient's server receives (headers, sanitised HTML, one-click unsubscribe), and every kind of
answer: accepted, refused for good, throttled, and the ambiguous lost answer (never sent twice:
none of them takes an idempotency key)."""

import pytest
from django.test import override_settings

from channels_app.models import Channel, Message
from channels_app.providers.email.fake import DOMAIN
from channels_app.services.channels import channel_test
from channels_app.services.messages import message_send
from cpaas.tenancy import Actor

from ...conftest import at, drain
from .conftest import SENDER

pytestmark = pytest.mark.django_db
S = Message.Status
HTML = '<h1>Your statement</h1><p onclick="steal()">Hello <b>Ada</b></p><script>alert("x")</script><a href="javascript:steal()">bad</a> <a href="https://demobank.example/s">See it</a>'


def send(workspace, contact, purpose="marketing", **content):
    content = content or {"email": {"subject": "Your statement", "body": HTML}}
    return message_send(
        workspace=workspace, contact=contact, channel="email", content=content, purpose=purpose, now=at(0)
    )


def fresh(message):
    return Message.objects.get(pk=message.pk)


# --- SMTP ---------------------------------------------------------------------------------------


def test_smtp_delivers_a_sanitised_multipart_email_with_one_click_unsubscribe(
    workspace, contact, smtp, smtp_server
):
    message = send(workspace, contact)
    stored = fresh(message).content["email"]
    assert (
        "<script" not in stored["html"]
        and "onclick" not in stored["html"]
        and "javascript:" not in stored["html"]
    )
    drain(0)
    [mail] = smtp_server.accepted
    assert mail["to"] == ["ada@example.com"] and mail["from"] == SENDER
    m = mail["message"]
    assert m["Subject"] == "Your statement" and m["From"] == f"Demo Bank <{SENDER}>"
    assert m["Message-ID"] == f"<{message.reference}@{DOMAIN}>"
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [part.strip(" <>") for part in m["List-Unsubscribe"].split(",")]
    assert https.startswith("http://127.0.0.1:8000/unsubscribe/") and mailto.startswith(
        f"mailto:{SENDER}?subject=unsubscribe"
    )
    html = m.get_body(("html",)).get_content()
    text = m.get_body(("plain",)).get_content()
    assert "<b>Ada</b>" in html and "<script" not in html and "alert" not in html and "steal" not in html
    assert "Hello Ada" in text and "<" not in text and "alert" not in text
    sent = fresh(message)
    assert (sent.status, sent.provider_message_id) == (S.SENT, f"{message.reference}@{DOMAIN}")


def test_transactional_mail_carries_no_unsubscribe_header(workspace, contact, smtp, smtp_server):
    send(workspace, contact, purpose="transactional", text="Your card was dispatched.")
    drain(0)
    m = smtp_server.accepted[0]["message"]
    assert (
        m["List-Unsubscribe"] is None
        and m.get_body(("plain",)).get_content().strip() == "Your card was dispatched."
    )


def test_smtp_recipient_refused_fails_with_the_servers_code(workspace, contact, smtp, smtp_server):
    smtp_server.refuse_rcpt = "ada@example.com"
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "550") and "User unknown" in m.error_reason


def test_smtp_try_later_is_retried(workspace, contact, smtp, smtp_server):
    smtp_server.data_reply = "451 4.3.0 Try again later"
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.QUEUED, "451")
    smtp_server.data_reply = ""
    drain(600)
    assert fresh(message).status == S.SENT and len(smtp_server.accepted) == 1


@override_settings(CHANNELS_SEND_DEADLINE_S=1.0)
def test_smtp_no_reply_after_the_message_is_unknown_and_never_sent_again(
    workspace, contact, smtp, smtp_server
):
    smtp_server.hang_after_data.set()
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.UNKNOWN, "no_answer")
    smtp_server.hang_after_data.clear()
    for second in (60, 600):
        drain(second)
    assert fresh(message).status == S.UNKNOWN and smtp_server.accepted == []


def test_an_smtp_server_on_a_private_address_is_refused(workspace, contact, smtp):
    Channel.objects.filter(pk=smtp.pk).update(settings={**smtp.settings, "host": "10.0.0.5"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "refused")


def test_smtp_test_connection_checks_the_login(workspace, smtp):
    ok, text = channel_test(channel=smtp, actor=Actor.system("test"))
    assert ok and "accepted the log-in" in text
    smtp.set_credentials({"username": "relay-user", "password": "wrong"})
    ok, text = channel_test(channel=smtp, actor=Actor.system("test"))
    assert not ok and "refused the user name or password" in text


# --- Mailgun ------------------------------------------------------------------------------------


def test_mailgun_gets_the_message_and_our_reference_as_metadata(workspace, contact, mailgun, mailgun_api):
    message = send(workspace, contact)
    drain(0)
    [request] = mailgun_api.requests
    [form] = mailgun_api.forms()
    assert request["path"] == f"/v3/{DOMAIN}/messages"
    assert form["to"] == ["ada@example.com"] and form["subject"] == ["Your statement"]
    assert form["from"] == [f"Demo Bank <{SENDER}>"]
    assert "<script" not in form["html"][0] and "<b>Ada</b>" in form["html"][0]
    assert form["h:List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
    assert form["v:ref"] == [message.reference]
    m = fresh(message)
    assert m.status == S.SENT and m.provider_message_id.endswith(f"@{DOMAIN}>")


def test_mailgun_refusal_fails_with_its_reason(workspace, contact, mailgun, mailgun_api):
    mailgun_api.answer_next(400, "mailgun_error_400.json")
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "400") and "not a valid address" in m.error_reason


def test_mailgun_429_waits_for_retry_after(workspace, contact, mailgun, mailgun_api):
    mailgun_api.answer_next(429, b'{"message": "Too many requests"}', {"Retry-After": "30"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.QUEUED, "429") and m.due_at >= at(30)
    drain(30)
    assert fresh(message).status == S.SENT and len(mailgun_api.requests) == 2


def test_a_2xx_answer_in_an_unexpected_shape_fails_with_the_raw_answer(
    workspace, contact, mailgun, mailgun_api
):
    mailgun_api.answer_next(200, b"<html>Mailgun Magnificent API</html>", {"Content-Type": "text/html"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "unexpected_answer") and "Magnificent" in m.error_reason


def test_mailgun_test_connection(workspace, mailgun):
    ok, text = channel_test(channel=mailgun, actor=Actor.system("test"))
    assert ok and f"'{DOMAIN}' is active" in text
    mailgun.set_credentials({**mailgun.credentials, "api_key": "key-wrong"})
    ok, text = channel_test(channel=mailgun, actor=Actor.system("test"))
    assert not ok and "refused the API key" in text


# --- Postmark -----------------------------------------------------------------------------------


def test_postmark_gets_json_with_metadata_and_headers(workspace, contact, postmark, postmark_api):
    message = send(workspace, contact)
    drain(0)
    [request] = postmark_api.requests
    body = request["json"]
    assert (
        request["path"] == "/email"
        and body["To"] == "ada@example.com"
        and body["Subject"] == "Your statement"
    )
    assert body["Metadata"] == {"ref": message.reference}
    headers = {h["Name"]: h["Value"] for h in body["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<script" not in body["HtmlBody"] and "Hello Ada" in body["TextBody"]
    assert fresh(message).status == S.SENT


def test_postmark_inactive_recipient_fails_for_good(workspace, contact, postmark, postmark_api):
    postmark_api.answer_next(422, "postmark_error_406.json")
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "rejected") and "refused the recipient" in m.error_reason
    drain(600)
    assert len(postmark_api.requests) == 1


def test_postmark_429_is_retried(workspace, contact, postmark, postmark_api):
    postmark_api.answer_next(429, "postmark_error_429.json")
    message = send(workspace, contact)
    drain(0)
    assert (fresh(message).status, fresh(message).error_code) == (S.QUEUED, "429")
    drain(600)
    assert fresh(message).status == S.SENT


def test_postmark_500_is_unknown_and_never_sent_again(workspace, contact, postmark, postmark_api):
    postmark_api.answer_next(500, b'{"ErrorCode": 500, "Message": "Internal error"}')
    message = send(workspace, contact)
    for second in (0, 60, 600):
        drain(second)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.UNKNOWN, "500") and len(postmark_api.requests) == 1


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_postmark_too_slow_is_unknown_within_the_deadline(workspace, contact, postmark, postmark_api):
    postmark_api.fault, postmark_api.fault_s = "slow", 2.0
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.UNKNOWN, "no_answer") and len(postmark_api.requests) == 1


def test_each_channel_uses_its_own_account(workspace, contact, postmark, postmark_api):
    from channels_app.services.channels import channel_create

    # a second Postmark channel with a wrong token: its send fails, the first's still succeeds
    other = channel_create(
        workspace=workspace, actor=Actor.system("test"), kind="email", provider="postmark", name="other",
        address=SENDER, credentials={"server_token": "wrong", "webhook_password": "x"}, settings={"api_base": postmark_api.url},
    )  # fmt: skip
    good = message_send(
        workspace=workspace, contact=contact, channel=postmark.pk, content={"text": "a"}, now=at(0)
    )
    bad = message_send(
        workspace=workspace, contact=contact, channel=other.pk, content={"text": "b"}, now=at(0)
    )
    drain(0)
    assert fresh(good).status == S.SENT
    assert (fresh(bad).status, fresh(bad).error_code) == (S.FAILED, "10")


def test_postmark_test_connection(workspace, postmark):
    ok, text = channel_test(channel=postmark, actor=Actor.system("test"))
    assert ok and "Demo Bank transactional" in text
    postmark.set_credentials({**postmark.credentials, "server_token": "wrong"})
    ok, text = channel_test(channel=postmark, actor=Actor.system("test"))
    assert not ok and "refused the server token" in text


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
@pytest.mark.parametrize("fault", ["reset", "drip"])
def test_mailgun_taking_the_message_and_losing_the_answer_is_unknown(
    workspace, contact, mailgun, mailgun_api, fault
):
    # Mailgun read and accepted the message, then the connection reset or the answer dripped
    mailgun_api.fault, mailgun_api.fault_s = fault, 0.05
    message = send(workspace, contact)
    for second in (0, 60, 600):
        drain(second)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.UNKNOWN, "no_answer") and len(mailgun_api.requests) == 1
