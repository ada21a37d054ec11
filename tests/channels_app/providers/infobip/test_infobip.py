"""The Infobip adapter against a local server playing its HTTP API, and Infobip's documented
webhook shapes (channels_app/providers/infobip/fixtures/, sources named there)."""

from decimal import Decimal

import pytest
from django.test import override_settings

from channels_app.models import Message
from channels_app.providers.infobip.fake import API_KEY, payload, report, webhook_headers
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


def hook(client, channel, kind, body, **kw):
    return post(client, channel, kind, body, headers=webhook_headers(**kw))


# --- sending -------------------------------------------------------------------------------------


def test_an_sms_goes_to_sms_v3_with_our_reference_as_message_id(workspace, contact, infobip, fake):
    message = send(workspace, contact)
    drain(0)
    [request] = fake.requests
    assert (request["path"], request["headers"]["authorization"]) == ("/sms/3/messages", f"App {API_KEY}")
    [sms] = request["json"]["messages"]
    assert sms["sender"] == "447700900001"
    assert sms["destinations"] == [{"to": "447911123456", "messageId": message.reference}]
    assert sms["content"] == {"text": "Your parcel arrives today."}
    assert sms["webhooks"]["delivery"]["url"].endswith(
        f"/webhooks/infobip/{infobip['sms'].webhook_token}/status/?ref={message.reference}"
    )
    assert sms["webhooks"]["callbackData"] == message.reference
    m = fresh(message)
    assert (m.status, m.provider_message_id) == (S.SENT, message.reference)


def test_whatsapp_viber_and_rcs_use_their_own_endpoints(workspace, contact, infobip, fake):
    open_window(contact, "whatsapp", "viber", "rcs")
    contents = [
        ("whatsapp", {"text": "Hi"}),
        (
            "whatsapp",
            {
                "text": "Code",
                "template": {"name": "otp_code", "language": "en_GB", "variables": {"1": "123456"}},
            },
        ),
        ("whatsapp", {"text": "Pick", "buttons": [{"id": "slot_am", "title": "Morning"}]}),
        ("whatsapp", {"text": "Receipt", "media_url": "https://example.com/r.png"}),
        ("viber", {"text": "Hello on Viber"}),
        ("rcs", {"text": "Hello on RCS"}),
    ]
    for i, (kind, content) in enumerate(contents):
        send(workspace, contact, channel=kind, content=content, idempotency_key=f"k{i}")
    drain(0)
    by_path = {r["path"]: r["json"] for r in fake.requests}
    assert by_path["/whatsapp/1/message/text"]["content"] == {"text": "Hi"}
    [template] = by_path["/whatsapp/1/message/template"]["messages"]
    assert template["content"] == {
        "templateName": "otp_code",
        "templateData": {"body": {"placeholders": ["123456"]}},
        "language": "en_GB",
    }
    buttons = by_path["/whatsapp/1/message/interactive/buttons"]["content"]
    assert buttons["action"]["buttons"] == [{"type": "REPLY", "id": "slot_am", "title": "Morning"}]
    assert by_path["/whatsapp/1/message/image"]["content"] == {
        "mediaUrl": "https://example.com/r.png",
        "caption": "Receipt",
    }
    assert by_path["/viber/2/messages"]["messages"][0]["content"] == {
        "text": "Hello on Viber",
        "type": "TEXT",
    }
    assert by_path["/rcs/2/messages"]["messages"][0]["sender"] == "demobank_agent"
    assert {m.status for m in Message.objects.filter(direction="out")} == {S.SENT}


def test_429_is_retried_after_retry_after(workspace, contact, infobip, fake):
    fake.answer_next(429, payload("error_429.json"), {"Retry-After": "5"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code, m.error_reason) == (S.QUEUED, "429", "Too many requests")
    assert m.due_at >= at(5)
    drain(5)
    assert fresh(message).status == S.SENT


def test_a_bad_request_fails_with_infobips_code(workspace, contact, infobip, fake):
    fake.answer_next(400, payload("error_400.json"))
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code, m.error_reason) == (S.FAILED, "BAD_REQUEST", "Bad request")


def test_an_accepted_request_whose_message_was_rejected_fails(workspace, contact, infobip, fake):
    fake.answer_next(200, payload("sms_rejected.json"))
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code, m.error_reason) == (
        S.FAILED,
        "REJECTED_DESTINATION",
        "Destination is not valid",
    )


def test_a_wrong_api_key_fails_unauthorised(workspace, contact, infobip, fake):
    channel = infobip["sms"]
    channel.set_credentials({**channel.credentials, "api_key": "wrong"})
    channel.save()
    message = send(workspace, contact)
    drain(0)
    assert (fresh(message).status, fresh(message).error_code) == (S.FAILED, "UNAUTHORIZED")


def test_a_502_may_hide_an_accepted_message_so_it_is_unknown(workspace, contact, infobip, fake):
    fake.answer_next(502, b"<html>Bad gateway</html>")
    message = send(workspace, contact)
    for second in (0, 10, 600):
        drain(second)
    assert (fresh(message).status, len(fake.sends())) == (S.UNKNOWN, 1)


@pytest.mark.parametrize("body", [b"<html>Welcome to the hotel wifi</html>", b'{"messages": []}', b"[]"])
def test_an_answer_in_an_unknown_shape_fails_with_the_raw_answer_kept(
    workspace, contact, infobip, fake, body
):
    fake.answer_next(200, body)
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "unexpected_answer")
    assert body.decode()[:20] in m.error_reason


@pytest.mark.parametrize("fault", list(FAULTS))
@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_an_ambiguous_answer_is_unknown_and_never_sent_twice(workspace, contact, infobip, fake, fault):
    check_ambiguous_answer_is_unknown(workspace, contact, fake, fault)


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_the_delivery_report_settles_an_unknown_message(client, workspace, contact, infobip, fake):
    fake.fault = "reset"
    message = send(workspace, contact)
    drain(0)
    assert fresh(message).status == S.UNKNOWN
    body = report("dlr_delivered.json", messageId=message.reference, callbackData=message.reference)
    assert hook(client, infobip["sms"], "status", body).status_code == 200
    assert fresh(message).status == S.DELIVERED


def test_testing_the_credentials_reads_the_balance(workspace, infobip, fake):
    ok, text = channel_test(channel=infobip["sms"], actor=Actor.system("test"))
    assert ok and "balance 47.79134 EUR" in text, text
    channel = infobip["sms"]
    channel.set_credentials({**channel.credentials, "api_key": "wrong"})
    ok, text = channel_test(channel=channel, actor=Actor.system("test"))
    assert not ok and "refused the API key: Invalid login details" in text


# --- webhooks ------------------------------------------------------------------------------------


def test_an_inbound_sms_is_stored(client, workspace, infobip):
    assert hook(client, infobip["sms"], "inbound", payload("inbound_sms.json")).status_code == 200
    message = Message.objects.get(direction="in")
    assert (message.text, message.contact.phone) == ("Is my order on its way?", "+447911123456")


def test_whatsapp_media_and_button_replies_arrive(client, workspace, infobip):
    assert (
        hook(client, infobip["whatsapp"], "inbound", payload("inbound_whatsapp_image.json")).status_code
        == 200
    )
    assert (
        hook(client, infobip["whatsapp"], "inbound", payload("inbound_whatsapp_button.json")).status_code
        == 200
    )
    image, button = Message.objects.filter(direction="in").order_by("pk")
    assert image.content["media_urls"] == [
        payload("inbound_whatsapp_image.json")["results"][0]["message"]["url"]
    ]
    assert (image.text, image.content["profile_name"]) == ("The damaged parcel", "Ada")
    assert button.content["button"] == {"id": "slot_am"}
    assert Event.objects.filter(name="message.received", properties__button="slot_am").exists()


def test_a_replayed_inbound_is_stored_once(client, workspace, infobip):
    for _ in range(2):
        assert hook(client, infobip["sms"], "inbound", payload("inbound_sms.json")).status_code == 200
    assert Message.objects.filter(direction="in").count() == 1


def test_webhooks_without_the_profiles_credentials_are_403_and_stored_nowhere(client, workspace, infobip):
    channel = infobip["sms"]
    assert post(client, channel, "inbound", payload("inbound_sms.json")).status_code == 403
    assert hook(client, channel, "inbound", payload("inbound_sms.json"), password="guess").status_code == 403
    assert hook(client, channel, "inbound", payload("inbound_sms.json"), username="other").status_code == 403
    assert post(client, channel, "status", payload("dlr_delivered.json")).status_code == 403
    assert nothing_stored()


def test_a_malformed_webhook_is_400(client, workspace, infobip):
    assert hook(client, infobip["sms"], "inbound", {"results": [{"text": "no ids"}]}).status_code == 400
    assert hook(client, infobip["sms"], "status", {"results": "nope"}).status_code == 400
    assert (
        hook(
            client, infobip["sms"], "status", report("dlr_delivered.json", status={"groupName": "ODD"})
        ).status_code
        == 400
    )
    assert nothing_stored()


FILES = {"sent": "dlr_pending.json", "delivered": "dlr_delivered.json", "read": "whatsapp_seen.json"}


def _sent(workspace, contact, kind):
    open_window(contact, kind)

    def send_one():
        message = send(workspace, contact, channel=kind, idempotency_key=f"o{Message.objects.count()}")
        drain(0)
        return fresh(message)

    return send_one


def _receipt(client, channel):
    def receipt(message, status):
        return hook(client, channel, "status", report(FILES[status], messageId=message.provider_message_id))

    return receipt


def test_sms_reports_in_every_order_late_and_twice(client, workspace, contact, infobip):
    check_receipts_in_every_order(
        _sent(workspace, contact, "sms"), _receipt(client, infobip["sms"]), ["sent", "delivered"], S.DELIVERED
    )


def test_whatsapp_reports_in_every_order_end_seen(client, workspace, contact, infobip):
    check_receipts_in_every_order(
        _sent(workspace, contact, "whatsapp"),
        _receipt(client, infobip["whatsapp"]),
        ["sent", "delivered", "read"],
        S.READ,
    )


def test_an_undeliverable_report_fails_with_the_networks_error_and_keeps_the_price(
    client, workspace, contact, infobip
):
    message = _sent(workspace, contact, "sms")()
    body = report("dlr_undeliverable.json", messageId=message.provider_message_id)
    body["results"][0]["price"] = {"pricePerMessage": 0.0085, "currency": "EUR"}
    assert hook(client, infobip["sms"], "status", body).status_code == 200
    m = fresh(message)
    assert (m.status, m.error_code, m.error_reason) == (S.FAILED, "EC_ABSENT_SUBSCRIBER", "Absent Subscriber")
    assert (m.cost, m.cost_currency) == (Decimal("0.0085"), "EUR")


def test_one_post_may_carry_reports_for_several_messages(client, workspace, contact, infobip):
    first, second = _sent(workspace, contact, "sms")(), _sent(workspace, contact, "sms")()
    body = payload("dlr_delivered.json")
    body["results"] = [dict(body["results"][0], messageId=m.provider_message_id) for m in (first, second)]
    assert hook(client, infobip["sms"], "status", body).status_code == 200
    assert {fresh(first).status, fresh(second).status} == {S.DELIVERED}


@pytest.mark.parametrize(
    "kind,name",
    [
        ("inbound", "inbound_whatsapp_button.json"),
        ("inbound", "inbound_sms.json"),
        ("status", "dlr_undeliverable.json"),
        ("status", "whatsapp_seen.json"),
    ],
)
def test_webhooks_in_odd_shapes_are_read_or_refused_never_a_crash(client, workspace, infobip, kind, name):
    check_odd_shapes_never_crash(lambda body: hook(client, infobip["whatsapp"], kind, body), payload(name))


@pytest.mark.parametrize(
    "status,name", [(200, "sms_accepted.json"), (400, "error_400.json"), (401, "error_401.json")]
)
def test_answers_in_odd_shapes_never_crash_the_dispatcher(workspace, contact, infobip, fake, status, name):
    check_odd_answers_never_crash(workspace, contact, fake, status, payload(name))
