"""The 8x8 SMS adapter against a local server playing 8x8's SMS API, and 8x8's documented webhook
shapes (channels_app/providers/eightbyeight/fixtures/, sources named there)."""

from decimal import Decimal

import pytest
from django.test import override_settings

from channels_app.models import Message
from channels_app.providers.eightbyeight.fake import SUBACCOUNT_ID, event, payload, webhook_headers
from channels_app.services.channels import channel_test
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
    post,
    send,
)

pytestmark = pytest.mark.django_db
S = Message.Status


def hook(client, channel, kind, body, value=None):
    return post(client, channel, kind, body, headers=webhook_headers(*([value] if value else [])))


def test_an_sms_names_our_reference_the_receipt_url_and_its_encoding(workspace, contact, eightbyeight, fake):
    message = send(workspace, contact, content={"text": "Your code is 1234 €"})
    drain(0)
    [request] = fake.requests
    assert request["path"] == f"/api/v1/subaccounts/{SUBACCOUNT_ID}/messages"
    body = request["json"]
    assert {k: body[k] for k in ("source", "destination", "text", "encoding", "clientMessageId")} == {
        "source": "DemoBank",
        "destination": "+447911123456",
        "text": "Your code is 1234 €",
        "encoding": "GSM7",  # € is in GSM-7's extension table
        "clientMessageId": message.reference,
    }
    assert body["dlrCallbackUrl"].endswith(
        f"/webhooks/eightbyeight/{eightbyeight.webhook_token}/status/?ref={message.reference}"
    )
    m = fresh(message)
    assert m.status == S.SENT and len(m.provider_message_id) == 36  # the umid


def test_a_text_outside_gsm7_goes_as_ucs2(workspace, contact, eightbyeight, fake):
    send(workspace, contact, content={"text": "Gracias 🙏"})
    drain(0)
    assert fake.sends()[0]["encoding"] == "UCS2"


def test_429_is_retried_after_retry_after(workspace, contact, eightbyeight, fake):
    fake.answer_next(429, {"message": "Too many requests"}, {"Retry-After": "3"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.QUEUED, "429") and m.due_at >= at(3)
    drain(3)
    assert fresh(message).status == S.SENT


def test_a_rejected_sms_fails_with_8x8s_words(workspace, contact, eightbyeight, fake):
    fake.answer_next(200, payload("sms_rejected.json"))
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "REJECTED")
    assert m.error_reason == "Invalid MSISDN format (not E.164 international number)"


def test_a_wrong_key_fails_with_8x8s_code(workspace, contact, eightbyeight, fake):
    eightbyeight.set_credentials({**eightbyeight.credentials, "api_key": "wrong"})
    eightbyeight.save()
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code, m.error_reason) == (
        S.FAILED,
        "1200",
        "Request was not authenticated properly",
    )


def test_a_500_may_hide_an_accepted_message_so_it_is_unknown(workspace, contact, eightbyeight, fake):
    fake.answer_next(500, {"code": 1, "message": "Internal server error"})
    message = send(workspace, contact)
    for second in (0, 10, 600):
        drain(second)
    assert (fresh(message).status, len(fake.sends())) == (S.UNKNOWN, 1)


@pytest.mark.parametrize("body", [b"<html>proxy</html>", b'{"status": "ok"}'])
def test_an_answer_in_an_unknown_shape_fails_with_the_raw_answer_kept(
    workspace, contact, eightbyeight, fake, body
):
    fake.answer_next(200, body)
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "unexpected_answer") and body.decode() in m.error_reason


@pytest.mark.parametrize("fault", list(FAULTS))
@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_an_ambiguous_answer_is_unknown_and_never_sent_twice(workspace, contact, eightbyeight, fake, fault):
    check_ambiguous_answer_is_unknown(workspace, contact, fake, fault)


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_the_receipt_settles_an_unknown_message_by_client_message_id(
    client, workspace, contact, eightbyeight, fake
):
    fake.fault = "reset"
    message = send(workspace, contact)
    drain(0)
    assert fresh(message).status == S.UNKNOWN
    assert (
        hook(
            client, eightbyeight, "status", event("dlr_delivered.json", clientMessageId=message.reference)
        ).status_code
        == 200
    )
    m = fresh(message)
    assert (m.status, m.provider_message_id) == (
        S.DELIVERED,
        payload("dlr_delivered.json")["payload"]["umid"],
    )


def test_testing_the_credentials_asks_8x8(workspace, eightbyeight, fake):
    ok, text = channel_test(channel=eightbyeight, actor=Actor.system("test"))
    assert ok and SUBACCOUNT_ID in text, text
    eightbyeight.set_credentials({**eightbyeight.credentials, "api_key": "wrong"})
    ok, text = channel_test(channel=eightbyeight, actor=Actor.system("test"))
    assert not ok and "refused the API key: Request was not authenticated properly" in text


# --- webhooks ------------------------------------------------------------------------------------


def test_an_inbound_sms_is_stored(client, workspace, eightbyeight):
    assert hook(client, eightbyeight, "inbound", payload("inbound_sms.json")).status_code == 200
    message = Message.objects.get(direction="in")
    assert (message.text, message.contact.phone, message.provider_message_id) == (
        "Is my order on its way?",
        "+447911123456",
        "0a6d2cb6-0f3e-4f6a-8c2b-6d0f2d3c4b5a",
    )


def test_webhooks_without_the_configured_authorization_are_403_and_stored_nowhere(
    client, workspace, eightbyeight
):
    assert post(client, eightbyeight, "inbound", payload("inbound_sms.json")).status_code == 403
    assert (
        hook(client, eightbyeight, "inbound", payload("inbound_sms.json"), "Bearer guessed").status_code
        == 403
    )
    assert hook(client, eightbyeight, "status", payload("dlr_delivered.json"), "Basic x").status_code == 403
    assert nothing_stored()


def test_a_malformed_or_misdirected_webhook_is_400(client, workspace, eightbyeight):
    response = hook(client, eightbyeight, "inbound", payload("dlr_delivered.json"))
    assert response.status_code == 400 and "inbound_message_received" in response.json()["error"]["message"]
    assert (
        hook(
            client, eightbyeight, "status", event("dlr_sent.json", status={"state": "teleported"})
        ).status_code
        == 400
    )
    assert hook(client, eightbyeight, "inbound", {"eventType": "inbound_message_received"}).status_code == 400
    assert nothing_stored()


def _send_one(workspace, contact):
    def send_one():
        message = send(workspace, contact, idempotency_key=f"o{Message.objects.count()}")
        drain(0)
        return fresh(message)

    return send_one


def _receipt(client, channel):
    files = {"sent": "dlr_sent.json", "delivered": "dlr_delivered.json"}

    def receipt(message, status):
        return hook(client, channel, "status", event(files[status], umid=message.provider_message_id))

    return receipt


def test_receipts_in_every_order_late_and_twice(client, workspace, contact, eightbyeight):
    check_receipts_in_every_order(
        _send_one(workspace, contact), _receipt(client, eightbyeight), ["sent", "delivered"], S.DELIVERED
    )


def test_delivered_to_the_operator_is_not_yet_delivered(client, workspace, contact, eightbyeight):
    message = _send_one(workspace, contact)()
    operator = event("dlr_delivered.json", umid=message.provider_message_id)
    operator["payload"]["status"]["detail"] = "delivered_to_operator"
    assert hook(client, eightbyeight, "status", operator).status_code == 200
    assert fresh(message).status == S.SENT


def test_an_undelivered_receipt_fails_with_the_error_and_keeps_the_price(
    client, workspace, contact, eightbyeight
):
    message = _send_one(workspace, contact)()
    assert (
        hook(
            client, eightbyeight, "status", event("dlr_undelivered.json", umid=message.provider_message_id)
        ).status_code
        == 200
    )
    m = fresh(message)
    assert (m.status, m.error_code, m.error_reason) == (S.FAILED, "6", "Absent subscriber")
    assert (m.cost, m.cost_currency) == (Decimal("0.0405"), "EUR")


@pytest.mark.parametrize("kind,name", [("inbound", "inbound_sms.json"), ("status", "dlr_undelivered.json")])
def test_webhooks_in_odd_shapes_are_read_or_refused_never_a_crash(
    client, workspace, eightbyeight, kind, name
):
    check_odd_shapes_never_crash(lambda body: hook(client, eightbyeight, kind, body), payload(name))


@pytest.mark.parametrize("status,name", [(200, "sms_accepted.json"), (401, "error_401.json")])
def test_answers_in_odd_shapes_never_crash_the_dispatcher(
    workspace, contact, eightbyeight, fake, status, name
):
    check_odd_answers_never_crash(workspace, contact, fake, status, payload(name))
