"""The Twilio adapter against a local server that plays Twilio, and Twilio's recorded webhook
payloads: request shapes, 429/5xx retries, error codes, signatures, inbound, receipts, calls."""

import datetime as dt
import json
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator

from channels_app.models import Channel, Message
from channels_app.services.channels import channel_test
from channels_app.services.messages import message_send
from contacts.models import Contact, Event
from cpaas.tenancy import Actor

from ...conftest import at, drain
from .fake import ACCOUNT_SID, AUTH_TOKEN, payload

pytestmark = pytest.mark.django_db
S = Message.Status


def send(workspace, contact, **kw):
    kw.setdefault("channel", "sms")
    kw.setdefault("content", {"text": "Your parcel arrives today."})
    return message_send(workspace=workspace, contact=contact, now=kw.pop("now", at(0)), **kw)


def fresh(message):
    return Message.objects.get(pk=message.pk)


def signed_post(client, channel, kind, body: str, query: str = "", token: str = AUTH_TOKEN):
    path = f"/webhooks/twilio/{channel.webhook_token}/{kind}/" + (f"?{query}" if query else "")
    params = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    signature = RequestValidator(token).compute_signature("http://testserver" + path, params)
    return client.post(
        path,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


# --- sending -------------------------------------------------------------------------------------


def test_an_sms_is_a_form_encoded_messages_request_with_a_status_callback(workspace, contact, twilio, fake):
    message = send(workspace, contact)
    drain(0)
    [request] = fake.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    form = request["form"]
    assert (form["To"], form["From"], form["Body"]) == (
        "+447911123456",
        "+15017122661",
        "Your parcel arrives today.",
    )
    callback = urllib.parse.urlparse(form["StatusCallback"])
    assert callback.path == f"/webhooks/twilio/{twilio['sms'].webhook_token}/status/"
    assert callback.query == f"ref={message.reference}"
    m = fresh(message)
    assert m.status == S.SENT and m.provider_message_id.startswith("SM")


def test_a_whatsapp_template_goes_as_content_sid_and_variables(workspace, contact, twilio, fake):
    send(
        workspace,
        contact,
        channel="whatsapp",
        content={
            "text": "Your code is 123456",
            "template": {"name": "HXb5b62575e6e4ff6129ad7c8efe1f983e", "variables": {"1": "123456"}},
        },
    )
    drain(0)
    form = fake.messages()[0]
    assert form["To"] == "whatsapp:+447911123456" and form["From"] == "whatsapp:+15017122661"
    assert form["ContentSid"] == "HXb5b62575e6e4ff6129ad7c8efe1f983e"
    assert json.loads(form["ContentVariables"]) == {"1": "123456"}
    assert "Body" not in form


def test_a_call_carries_twiml_with_say_and_gather(workspace, contact, twilio, fake):
    message = send(
        workspace,
        contact,
        channel="voice",
        content={
            "voice": {"say": "Press 1 to confirm your appointment.", "gather": {"digits": 1, "timeout_s": 5}}
        },
    )
    drain(0)
    [request] = fake.requests
    assert request["path"].endswith("/Calls.json")
    twiml = request["form"]["Twiml"]
    assert '<Gather action="http://127.0.0.1:8000/webhooks/twilio/' in twiml
    assert f"/inbound/?ref={message.reference}" in twiml
    assert 'numDigits="1"' in twiml and "Press 1 to confirm your appointment.</Say>" in twiml
    assert fresh(message).provider_message_id.startswith("CA")


def test_429_with_retry_after_then_success(workspace, contact, twilio, fake):
    fake.answer_next(429, "error_429.json", {"Retry-After": "7"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.QUEUED, "429")
    assert m.due_at >= at(7)  # Retry-After honoured
    drain(7)
    assert fresh(message).status == S.SENT
    assert len(fake.messages()) == 2  # the refused call and the accepted one


def test_503_not_processed_is_retried_then_succeeds(workspace, contact, twilio, fake):
    fake.answer_next(503, "error_503.json")
    fake.answer_next(503, "error_503.json")
    message = send(workspace, contact)
    for second in (0, 10, 30):
        drain(second)
    m = fresh(message)
    assert (m.status, m.attempts) == (S.SENT, 3)
    assert [e.error_code for e in m.status_events.filter(source="dispatcher", status=S.QUEUED)] == [
        "503",
        "503",
    ]


def test_a_500_may_hide_an_accepted_message_so_it_is_unknown_and_never_sent_again(
    workspace, contact, twilio, fake
):
    fake.answer_next(500, "error_503.json")
    message = send(workspace, contact)
    for second in (0, 10, 30, 600):
        drain(second)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.UNKNOWN, "500")
    assert "not sent again" in m.error_reason
    assert len(fake.messages()) == 1


def test_a_4xx_fails_with_twilios_error_code(workspace, contact, twilio, fake):
    fake.answer_next(400, "error_21211.json")
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "21211")
    assert m.error_reason.startswith("Invalid 'To' Phone Number")
    assert len(fake.messages()) == 1


def test_an_unreachable_api_is_a_transient_error(workspace, contact, twilio):
    Channel.objects.filter(pk=twilio["sms"].pk).update(settings={"api_base": "http://127.0.0.1:9"})
    message = send(workspace, contact)
    drain(0)
    assert (fresh(message).status, fresh(message).error_code) == (S.QUEUED, "network")


def test_testing_the_credentials_asks_twilio(workspace, twilio, fake):
    ok, text = channel_test(channel=twilio["sms"], actor=Actor.system("test"))
    assert ok and "Demo Bank messaging" in text
    channel = twilio["sms"]
    channel.set_credentials({"account_sid": ACCOUNT_SID, "auth_token": "wrong"})
    ok, text = channel_test(channel=channel, actor=Actor.system("test"))
    assert not ok and "Authenticate" in text


def test_credentials_are_encrypted_and_shown_masked(twilio):
    channel = twilio["sms"]
    assert (
        AUTH_TOKEN not in channel.credentials_encrypted and ACCOUNT_SID not in channel.credentials_encrypted
    )
    assert channel.credentials["auth_token"] == AUTH_TOKEN
    masked = channel.masked_credentials()
    assert masked == {"account_sid": "AC00…0001", "auth_token": "f0a1…7e8f"}


# --- webhooks ------------------------------------------------------------------------------------


def test_a_signed_inbound_sms_is_stored_and_answered_with_twiml(client, workspace, twilio):
    response = signed_post(client, twilio["sms"], "inbound", payload("inbound_sms.txt").decode())
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert b"<Response></Response>" in response.content
    message = Message.objects.get(direction="in")
    assert message.provider_message_id == "SM8f2d3c0b9a4e4f6b8c1d2e3f4a5b6c7d"
    assert message.text == "Is my order on its way?"
    assert message.contact.phone == "+447911123456"


def test_an_invalid_twilio_signature_is_403_and_nothing_is_stored(client, workspace, twilio):
    response = signed_post(
        client, twilio["sms"], "inbound", payload("inbound_sms.txt").decode(), token="not-the-token"
    )
    assert response.status_code == 403
    assert not Message.objects.exists() and not Contact.objects.exists()
    # a valid signature over a tampered body is refused too
    body = payload("inbound_sms.txt").decode()
    path = f"/webhooks/twilio/{twilio['sms'].webhook_token}/inbound/"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "http://testserver" + path, dict(urllib.parse.parse_qsl(body))
    )
    tampered = body.replace("Is+my+order", "Send+me+money")
    response = client.post(
        path,
        data=tampered,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403 and not Message.objects.exists()


def test_a_whatsapp_button_reply_arrives_with_its_payload_and_media(client, workspace, twilio):
    assert (
        signed_post(
            client, twilio["whatsapp"], "inbound", payload("inbound_whatsapp_button.txt").decode()
        ).status_code
        == 200
    )
    message = Message.objects.get(direction="in")
    assert message.address == "+447911123456"
    assert message.content["button"] == {"id": "slot_am"}
    assert message.content["media_urls"][0].endswith("/Media/ME1")
    assert message.content["profile_name"] == "Ada"
    assert Event.objects.get(name="message.received").properties["button"] == "slot_am"


def test_a_malformed_twilio_payload_is_400(client, workspace, twilio):
    response = signed_post(client, twilio["sms"], "inbound", "Body=hello&To=%2B15017122661")
    assert response.status_code == 400 and not Message.objects.exists()


def test_status_callbacks_in_any_order(client, workspace, contact, twilio, fake):
    message = send(workspace, contact)
    drain(0)
    sid = fresh(message).provider_message_id

    def callback(name):
        body = payload(name).decode().replace("SM1f0e8ae6ade43cb3c0ce4525424e404f", sid)
        return signed_post(client, twilio["sms"], "status", body, query=f"ref={message.reference}")

    assert callback("status_delivered.txt").status_code == 200
    assert callback("status_sent.txt").status_code == 200  # late: ignored
    m = fresh(message)
    assert m.status == S.DELIVERED
    assert list(m.status_events.filter(source="webhook").values_list("status", "applied")) == [
        ("delivered", True),
        ("sent", False),
    ]


def test_an_undelivered_callback_fails_the_message_with_the_carrier_code(
    client, workspace, contact, twilio, fake
):
    message = send(workspace, contact)
    drain(0)
    sid = fresh(message).provider_message_id
    body = payload("status_undelivered.txt").decode().replace("SM1f0e8ae6ade43cb3c0ce4525424e404f", sid)
    signed_post(client, twilio["sms"], "status", body)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "30003")


def test_a_receipt_finds_its_message_by_reference_before_the_sid_is_known(client, workspace, contact, twilio):
    # the worker handed the message over but has not recorded Twilio's answer yet
    message = send(workspace, contact)
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, claim_token="w1")
    signed_post(
        client,
        twilio["sms"],
        "status",
        payload("status_delivered.txt").decode(),
        query=f"ref={message.reference}",
    )
    m = fresh(message)
    assert (m.status, m.provider_message_id) == (S.DELIVERED, "SM1f0e8ae6ade43cb3c0ce4525424e404f")


def test_a_call_keyed_digits_arrive_as_an_inbound_message_and_the_call_completes(
    client, workspace, contact, twilio, fake
):
    message = send(
        workspace,
        contact,
        channel="voice",
        content={"voice": {"say": "Press 1 or 2", "gather": {"digits": 1, "timeout_s": 5}}},
    )
    drain(0)
    sid = fresh(message).provider_message_id
    gather = payload("call_gather_digits.txt").decode().replace("CA42ed11f93dc08b952027ffbc406d0868", sid)
    assert (
        signed_post(client, twilio["voice"], "inbound", gather, query=f"ref={message.reference}").status_code
        == 200
    )
    inbound = Message.objects.get(direction="in")
    assert (inbound.contact, inbound.content["digits"], inbound.kind) == (contact, "2", "voice")
    completed = (
        payload("call_status_completed.txt").decode().replace("CA42ed11f93dc08b952027ffbc406d0868", sid)
    )
    signed_post(client, twilio["voice"], "status", completed)
    assert fresh(message).status == S.DELIVERED


def test_a_send_at_a_fixed_time_is_repeatable(workspace, contact, twilio, fake):
    """Guard for the tests above: `at()` is a fixed clock, not the wall clock."""
    assert at(0) == dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "api_base",
    ["http://169.254.169.254/latest/meta-data", "http://10.0.0.5:8080", "http://[2002:7f00:1::1]:8080",
     "http://[::ffff:192.168.1.1]", "http://[64:ff9b::a9fe:a9fe]"],
)  # fmt: skip
def test_an_api_base_on_a_private_address_is_refused_not_called(workspace, contact, twilio, api_base):
    # a workspace admin types the API base: the dispatcher must not call into the private network
    Channel.objects.filter(pk=twilio["sms"].pk).update(settings={"api_base": api_base})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "refused")
    assert "may not be called: refused:" in m.error_reason


def test_the_provider_http_call_refuses_private_addresses_before_connecting():
    import time

    from channels_app.providers import http

    with pytest.raises(http.Refused, match="resolves to 169.254.169.254"):
        http.call("GET", "http://169.254.169.254/", headers={}, body=None, deadline=time.monotonic() + 2)
