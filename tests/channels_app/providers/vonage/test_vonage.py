"""The Vonage adapter against a local server playing the Messages API, and Vonage's documented
webhook shapes (channels_app/providers/vonage/fixtures/, sources named there): request bodies per
channel, 429/5xx/4xx, odd answers, signed webhooks, inbound, receipts in any order."""

import json
import urllib.parse

import pytest
from django.test import override_settings

from channels_app.models import Message
from channels_app.providers.vonage.fake import API_KEY, APPLICATION_ID, payload, signed_headers
from channels_app.services.channels import channel_test
from contacts.models import Event
from cpaas.tenancy import Actor

from ...conftest import at, drain
from ..helpers import (
    FAULTS,
    check_ambiguous_answer_is_unknown,
    check_odd_answers_never_crash,
    check_odd_shapes_never_crash,
    check_receipts_in_every_order,
    fresh,
    nothing_stored,
    open_window,
    post,
    send,
)

pytestmark = pytest.mark.django_db
S = Message.Status


def signed(client, channel, kind, body, **kw):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return post(client, channel, kind, raw, headers=signed_headers(raw, **kw))


# --- sending -------------------------------------------------------------------------------------


def test_an_sms_is_one_messages_api_request_with_our_reference_and_status_url(
    workspace, contact, vonage, fake
):
    message = send(workspace, contact)
    drain(0)
    [request] = fake.requests
    assert (request["method"], request["path"]) == ("POST", "/v1/messages")
    assert request["headers"]["authorization"].startswith("Bearer ")  # the application's JWT
    body = request["json"]
    assert {k: body[k] for k in ("channel", "message_type", "to", "from", "text", "client_ref")} == {
        "channel": "sms",
        "message_type": "text",
        "to": "447911123456",
        "from": "447700900001",
        "text": "Your parcel arrives today.",
        "client_ref": message.reference,
    }
    callback = urllib.parse.urlparse(body["webhook_url"])
    assert callback.path == f"/webhooks/vonage/{vonage['sms'].webhook_token}/status/"
    m = fresh(message)
    assert m.status == S.SENT and len(m.provider_message_id) == 36  # Vonage's message_uuid


def test_whatsapp_templates_buttons_and_images_use_the_documented_shapes(workspace, contact, vonage, fake):
    open_window(contact)
    send(
        workspace,
        contact,
        channel="whatsapp",
        content={
            "text": "Your code is 123456",
            "template": {"name": "otp_code", "language": "en_GB", "variables": {"2": "5", "1": "123456"}},
        },
    )
    send(
        workspace,
        contact,
        channel="whatsapp",
        content={"text": "Pick a slot", "buttons": [{"id": "slot_am", "title": "Morning"}]},
        idempotency_key="b",
    )
    send(
        workspace,
        contact,
        channel="whatsapp",
        content={"text": "Your receipt", "media_url": "https://example.com/r.png"},
        idempotency_key="c",
    )
    drain(0)
    sent = {body["message_type"]: body for body in fake.sends()}  # dispatch order is not fixed
    template, buttons, image = sent["template"], sent["custom"], sent["image"]
    assert template["message_type"] == "template"
    assert template["template"] == {"name": "otp_code", "parameters": ["123456", "5"]}
    assert template["whatsapp"] == {"policy": "deterministic", "locale": "en_GB"}
    assert buttons["message_type"] == "custom"
    interactive = buttons["custom"]["interactive"]
    assert interactive["body"]["text"] == "Pick a slot"
    assert interactive["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "slot_am", "title": "Morning"}}
    ]
    assert image["image"] == {"url": "https://example.com/r.png", "caption": "Your receipt"}


def test_viber_messenger_and_rcs_go_on_their_own_channels(workspace, contact, vonage, fake):
    open_window(contact, "whatsapp", "viber", "messenger", "rcs")
    send(workspace, contact, channel="viber", content={"text": "Hello on Viber"})
    send(workspace, contact, channel="messenger", content={"text": "Hello on Messenger"}, idempotency_key="m")
    send(
        workspace,
        contact,
        channel="rcs",
        content={"text": "Confirm?", "buttons": [{"id": "yes", "title": "Yes"}]},
        idempotency_key="r",
    )
    drain(0)
    sent = {body["channel"]: body for body in fake.sends()}
    viber, messenger, rcs = sent["viber_service"], sent["messenger"], sent["rcs"]
    assert (viber["channel"], viber["from"], viber["viber_service"]) == (
        "viber_service",
        "DemoBank",
        {"category": "transaction"},
    )
    assert (messenger["channel"], messenger["to"], messenger["messenger"]) == (
        "messenger",
        "ada.m",  # a page-scoped id, not a phone number
        {"category": "response"},
    )
    assert rcs["custom"]["contentMessage"]["suggestions"] == [
        {"reply": {"text": "Yes", "postbackData": "yes"}}
    ]
    assert all(fresh(m).status == S.SENT for m in Message.objects.filter(direction="out"))


def test_429_is_retried_after_retry_after(workspace, contact, vonage, fake):
    fake.answer_next(429, payload("error_429.json"), {"Retry-After": "7"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.QUEUED, "429")
    assert m.due_at >= at(7)
    drain(7)
    assert fresh(message).status == S.SENT and len(fake.sends()) == 2


def test_a_refusal_fails_with_vonages_code_and_words(workspace, contact, vonage, fake):
    fake.answer_next(422, payload("error_422.json"))
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "1150")
    assert m.error_reason.startswith("Invalid params: The value of one or more parameters is invalid.")
    assert len(fake.sends()) == 1


def test_wrong_application_key_fails_as_unauthorised(workspace, contact, vonage, fake):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    channel = vonage["sms"]
    channel.set_credentials({**channel.credentials, "private_key": other.decode()})
    channel.save()
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "unauthorized")
    assert "You did not provide correct credentials." in m.error_reason


def test_a_500_may_hide_an_accepted_message_so_it_is_unknown(workspace, contact, vonage, fake):
    fake.answer_next(500, b'{"title": "Internal Error"}')
    message = send(workspace, contact)
    for second in (0, 10, 30, 600):
        drain(second)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.UNKNOWN, "500")
    assert len(fake.sends()) == 1


@pytest.mark.parametrize("status", [200, 202, 400])
def test_an_answer_in_an_unknown_shape_fails_with_the_raw_answer_kept(
    workspace, contact, vonage, fake, status
):
    fake.answer_next(
        status, b"<html><body>Gateway login required</body></html>", {"Content-Type": "text/html"}
    )
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert m.status == S.FAILED
    assert "Gateway login required" in m.error_reason


@pytest.mark.parametrize("fault", list(FAULTS))
@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_an_ambiguous_answer_is_unknown_and_never_sent_twice(workspace, contact, vonage, fake, fault):
    check_ambiguous_answer_is_unknown(workspace, contact, fake, fault)


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_the_status_webhook_settles_an_unknown_message_by_client_ref(
    client, workspace, contact, vonage, fake
):
    fake.fault = "reset"
    message = send(workspace, contact)
    drain(0)
    assert fresh(message).status == S.UNKNOWN
    body = payload("status_delivered.json") | {"client_ref": message.reference}
    assert signed(client, vonage["sms"], "status", body).status_code == 200
    m = fresh(message)
    assert (m.status, m.provider_message_id) == (S.DELIVERED, body["message_uuid"])


def test_testing_the_credentials_asks_vonage_for_the_application(workspace, vonage, fake):
    ok, text = channel_test(channel=vonage["sms"], actor=Actor.system("test"))
    assert ok and "Demo Bank messaging" in text, text
    channel = vonage["sms"]
    channel.set_credentials({**channel.credentials, "api_secret": "wrong"})
    ok, text = channel_test(channel=channel, actor=Actor.system("test"))
    assert not ok and "refused the API key and secret" in text
    channel.set_credentials(
        {**channel.credentials, "api_secret": "VonageSecret0001", "application_id": "nope"}
    )
    ok, text = channel_test(channel=channel, actor=Actor.system("test"))
    assert not ok and "no application 'nope'" in text
    channel.set_credentials(
        {**channel.credentials, "application_id": APPLICATION_ID, "private_key": "not a key"}
    )
    ok, text = channel_test(channel=channel, actor=Actor.system("test"))
    assert not ok and "private key" in text


def test_a_private_key_pasted_on_one_line_still_works(workspace, contact, vonage, fake):
    channel = vonage["sms"]
    one_line = " ".join(channel.credentials["private_key"].splitlines())
    channel.set_credentials({**channel.credentials, "private_key": one_line})
    channel.save()
    message = send(workspace, contact)
    drain(0)
    assert fresh(message).status == S.SENT


# --- webhooks ------------------------------------------------------------------------------------


def test_a_signed_inbound_sms_is_stored(client, workspace, vonage):
    assert signed(client, vonage["sms"], "inbound", payload("inbound_sms.json")).status_code == 200
    message = Message.objects.get(direction="in")
    assert (message.provider_message_id, message.text) == (
        "cccccccc-1111-4222-8333-444444444444",
        "Is my order on its way?",
    )
    assert message.contact.phone == "+447911123456"


def test_a_whatsapp_image_arrives_with_its_media_and_profile(client, workspace, vonage):
    assert (
        signed(client, vonage["whatsapp"], "inbound", payload("inbound_whatsapp_image.json")).status_code
        == 200
    )
    message = Message.objects.get(direction="in")
    assert message.content["media_urls"] == [payload("inbound_whatsapp_image.json")["image"]["url"]]
    assert message.text == "The damaged parcel"
    assert message.content["profile_name"] == "Ada"


def test_a_whatsapp_button_reply_arrives_with_its_id(client, workspace, vonage):
    assert (
        signed(client, vonage["whatsapp"], "inbound", payload("inbound_whatsapp_reply.json")).status_code
        == 200
    )
    message = Message.objects.get(direction="in")
    assert message.content["button"] == {"id": "slot_am"}
    assert Event.objects.get(name="message.received").properties["button"] == "slot_am"


def test_an_unsigned_tampered_or_wrongly_signed_webhook_is_403_and_stored_nowhere(client, workspace, vonage):
    raw = json.dumps(payload("inbound_sms.json")).encode()
    channel = vonage["sms"]
    # missing
    assert post(client, channel, "inbound", raw).status_code == 403
    # tampered: a valid signature over another body
    tampered = raw.replace(b"Is my order", b"Send me money")
    assert post(client, channel, "inbound", tampered, headers=signed_headers(raw)).status_code == 403
    # signed with another secret
    assert (
        post(
            client,
            channel,
            "inbound",
            raw,
            headers=signed_headers(raw, secret="a-guessed-secret-of-thirty-two-bytes!"),
        ).status_code
        == 403
    )
    # a replay of a genuine webhook signed an hour ago
    import time

    stale = signed_headers(raw, iat=time.time() - 3600)
    assert post(client, channel, "inbound", raw, headers=stale).status_code == 403
    # a status with a bad signature changes nothing either
    assert (
        post(client, channel, "status", json.dumps(payload("status_delivered.json")).encode()).status_code
        == 403
    )
    assert nothing_stored()


def test_a_signed_but_malformed_webhook_is_400(client, workspace, vonage):
    assert signed(client, vonage["sms"], "inbound", {"text": "no ids"}).status_code == 400
    assert (
        signed(client, vonage["sms"], "status", {"message_uuid": "x", "status": "teleported"}).status_code
        == 400
    )
    assert signed(client, vonage["sms"], "inbound", b"[1, 2]").status_code == 400
    assert nothing_stored()


def _sent(workspace, contact, kind="sms"):
    open_window(contact, kind)

    def send_one():
        message = send(workspace, contact, channel=kind, idempotency_key=f"o{Message.objects.count()}")
        drain(0)
        return fresh(message)

    return send_one


def _receipt(client, channel):
    files = {
        "sent": "status_submitted.json",
        "delivered": "status_delivered.json",
        "read": "status_read.json",
    }

    def receipt(message, status):
        body = payload(files[status]) | {
            "message_uuid": message.provider_message_id,
            "client_ref": message.reference,
        }
        return signed(client, channel, "status", body)

    return receipt


def test_sms_receipts_in_every_order_late_and_twice(client, workspace, contact, vonage):
    check_receipts_in_every_order(
        _sent(workspace, contact), _receipt(client, vonage["sms"]), ["sent", "delivered"], S.DELIVERED
    )


def test_whatsapp_receipts_in_every_order_end_read(client, workspace, contact, vonage):
    check_receipts_in_every_order(
        _sent(workspace, contact, "whatsapp"),
        _receipt(client, vonage["whatsapp"]),
        ["sent", "delivered", "read"],
        S.READ,
    )


def test_a_rejected_status_fails_the_message_with_vonages_code(client, workspace, contact, vonage):
    message = _sent(workspace, contact, "whatsapp")()
    submitted = payload("status_submitted.json") | {"message_uuid": message.provider_message_id}
    signed(client, vonage["whatsapp"], "status", submitted)
    rejected = payload("status_rejected.json") | {"message_uuid": message.provider_message_id}
    assert signed(client, vonage["whatsapp"], "status", rejected).status_code == 200
    m = fresh(message)
    assert (m.status, m.error_code, m.error_reason) == (S.FAILED, "1340", "Outside the allowed window")
    # a late delivered after the failure is kept in the history, not believed
    signed(
        client,
        vonage["whatsapp"],
        "status",
        payload("status_delivered.json") | {"message_uuid": m.provider_message_id},
    )
    assert fresh(message).status == S.FAILED


def test_the_api_key_claim_must_be_this_accounts(client, workspace, vonage):
    import jwt

    raw = json.dumps(payload("inbound_sms.json")).encode()
    claims = jwt.decode(signed_headers(raw)["Authorization"][7:], options={"verify_signature": False})
    claims["api_key"] = "another-account"
    from channels_app.providers.vonage.fake import SIGNATURE_SECRET

    token = jwt.encode(claims, SIGNATURE_SECRET, algorithm="HS256")
    assert (
        post(client, vonage["sms"], "inbound", raw, headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )
    assert claims["api_key"] != API_KEY and nothing_stored()


@pytest.mark.parametrize(
    "kind,name",
    [
        ("inbound", "inbound_whatsapp_image.json"),
        ("inbound", "inbound_whatsapp_reply.json"),
        ("status", "status_rejected.json"),
    ],
)
def test_webhooks_in_odd_shapes_are_read_or_refused_never_a_crash(client, workspace, vonage, kind, name):
    check_odd_shapes_never_crash(lambda body: signed(client, vonage["whatsapp"], kind, body), payload(name))


@pytest.mark.parametrize("status,name", [(202, "message_accepted.json"), (422, "error_422.json")])
def test_answers_in_odd_shapes_never_crash_the_dispatcher(workspace, contact, vonage, fake, status, name):
    check_odd_answers_never_crash(workspace, contact, fake, status, payload(name))
