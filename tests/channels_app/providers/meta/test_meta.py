"""The Meta WhatsApp Cloud API adapter against a local server that plays the Graph API, and
Meta's documented webhook payloads (channels_app/providers/meta/fixtures/, sources named in
SOURCES.md): request shapes, throttling, permanent errors, ambiguous answers, unexpected shapes,
inbound messages, statuses in every order, signatures and the verify-token challenge, the setup
checks and template sync."""

import datetime as dt
import json

import pytest
from django.test import override_settings

from channels_app.models import ChannelTemplate, Message
from channels_app.providers.meta.fake import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, status_webhook
from channels_app.services.channels import (
    channel_check,
    channel_templates,
    channel_templates_sync,
    channel_test,
)
from channels_app.services.messages import message_send
from consent.services import inbound_recorded
from contacts.models import Event
from cpaas.tenancy import Actor

from ...conftest import T0, at, drain
from .conftest import VERIFY_TOKEN, post, webhook

pytestmark = pytest.mark.django_db
S = Message.Status
TEXT_FIXTURE_ID = "wamid.HBgMNDQ3OTExMTIzNDU2FQIAEhggQTFCMkMzRDRFNUY2QTFCMkMzRDRFNUY2QTFCMkMzRDQA"


def send(workspace, contact, content=None, **kw):
    if not (content or {}).get("template"):  # free-form: only inside the 24-hour window
        inbound_recorded(contact=contact, channel_kind="whatsapp", at=T0 - dt.timedelta(minutes=5))
    return message_send(
        workspace=workspace,
        contact=contact,
        channel="whatsapp",
        content=content or {"text": "Your card is on its way."},
        now=kw.pop("now", at(0)),
        **kw,
    )


def fresh(message):
    return Message.objects.get(pk=message.pk)


# --- sending -------------------------------------------------------------------------------------


def test_a_text_is_a_messages_request_with_our_reference(workspace, contact, meta, graph):
    message = send(workspace, contact, {"text": "Pay here: https://bank.example/pay"})
    drain(0)
    [request] = graph.requests
    assert request["path"] == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    body = request["body"]
    assert body["messaging_product"] == "whatsapp" and body["to"] == "447911123456"
    assert body["type"] == "text"
    assert body["text"] == {"body": "Pay here: https://bank.example/pay", "preview_url": True}
    assert body["biz_opaque_callback_data"] == message.reference
    m = fresh(message)
    assert m.status == S.SENT and m.provider_message_id == request["wamid"]


def test_a_template_carries_its_variables_in_order(workspace, contact, meta, graph):
    send(
        workspace,
        contact,
        {
            "text": "Hello Ada, your payment of £120 is due on 5 March.",
            "template": {
                "name": "payment_reminder",
                "language": "en_US",
                "variables": {"2": "£120", "1": "Ada", "3": "5 March"},
            },
        },
    )
    drain(0)
    template = graph.sends()[0]["template"]
    assert template == {
        "name": "payment_reminder",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ada"},
                    {"type": "text", "text": "£120"},
                    {"type": "text", "text": "5 March"},
                ],
            }
        ],
    }


def test_up_to_three_buttons_are_reply_buttons_and_more_are_a_list(workspace, contact, meta, graph):
    send(workspace, contact, {"text": "Pay now?", "buttons": [{"id": "pay", "title": "Pay now"}, "Later"]})
    send(workspace, contact, {"text": "Pick a plan", "buttons": [f"{n} months" for n in range(1, 6)]})
    drain(0)
    sent = {b["interactive"]["type"]: b["interactive"] for b in graph.sends()}
    buttons, listed = sent["button"], sent["list"]
    assert buttons["type"] == "button" and buttons["body"] == {"text": "Pay now?"}
    assert buttons["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "pay", "title": "Pay now"}},
        {"type": "reply", "reply": {"id": "Later", "title": "Later"}},
    ]
    assert listed["type"] == "list"
    assert [r["title"] for r in listed["action"]["sections"][0]["rows"]] == [
        f"{n} months" for n in range(1, 6)
    ]


def test_media_goes_by_link_with_the_text_as_caption(workspace, contact, meta, graph):
    send(workspace, contact, {"text": "Your statement", "media_url": "https://bank.example/s.pdf"})
    send(workspace, contact, {"text": "Our branch", "media_url": "https://bank.example/branch.jpg"})
    drain(0)
    sent = {b["type"]: b for b in graph.sends()}
    document, image = sent["document"], sent["image"]
    assert document["type"] == "document"
    assert document["document"] == {"link": "https://bank.example/s.pdf", "caption": "Your statement"}
    assert image["type"] == "image" and image["image"]["link"] == "https://bank.example/branch.jpg"


def test_a_permanent_error_fails_with_metas_code(workspace, contact, meta, graph):
    graph.answer_next(400, "error_131026.json")
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "131026")
    assert "Message Undeliverable" in m.error_reason
    assert len(graph.requests) == 1


def test_outside_the_window_meta_says_131047_which_is_consents_window_rule(workspace, contact, meta, graph):
    graph.answer_next(400, "error_131047.json")
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "whatsapp.window")
    assert "131047" in m.error_reason and "approved template" in m.error_reason


def test_throttling_is_retried_after_retry_after(workspace, contact, meta, graph):
    graph.answer_next(400, "error_130429.json", {"Retry-After": "7"})
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.QUEUED, "130429")
    assert "throttled" in m.status_events.get(status=S.QUEUED, source="dispatcher").detail
    assert m.due_at >= at(7)
    drain(8)
    assert fresh(message).status == S.SENT and len(graph.requests) == 2


def test_a_5xx_may_hide_an_accepted_message_so_it_is_unknown_and_never_sent_again(
    workspace, contact, meta, graph
):
    graph.script.append((500, {}, b'{"error": {"message": "An unknown error occurred", "code": 1}}'))
    message = send(workspace, contact)
    drain(0)
    for second in (10, 60, 600):
        drain(second)
    m = fresh(message)
    assert m.status == S.UNKNOWN and "not sent again" in m.error_reason
    assert len(graph.requests) == 1


@pytest.mark.parametrize("fault", ["slow", "reset"])
@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_a_timeout_is_ambiguous_never_retried_and_the_status_webhook_settles_it(
    client, workspace, contact, meta, graph, fault
):
    graph.fault, graph.fault_s = fault, 2.0
    message = send(workspace, contact)
    drain(0)
    graph.fault = ""
    for second in (10, 60, 600, 3600):
        drain(second)
    m = fresh(message)
    assert m.status == S.UNKNOWN and m.provider_message_id in (None, "")
    assert len(graph.requests) == 1  # Meta got it once, whatever ran later
    # Meta's status webhook carries our reference (biz_opaque_callback_data): it settles it
    body = status_webhook("wamid.late", "delivered", reference=message.reference, at=int(at(5).timestamp()))
    assert post(client, meta, body).status_code == 200
    m = fresh(message)
    assert m.status == S.DELIVERED and m.provider_message_id == "wamid.late"


@pytest.mark.parametrize(
    "answer",
    [b'{"ok": true}', b"<html>Bad gateway page</html>", b'{"messages": "nope"}', b"[]"],
)
def test_an_unexpected_answer_is_a_failed_message_with_the_answer_kept(
    workspace, contact, meta, graph, answer
):
    graph.script.append((200, {}, answer))
    message = send(workspace, contact)
    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "unexpected_answer")
    assert answer.decode()[:20] in m.error_reason


# --- inbound -------------------------------------------------------------------------------------


def test_an_inbound_text_is_stored_with_the_profile_name(client, workspace, meta):
    assert post(client, meta, webhook("webhook_text.json")).status_code == 200
    message = Message.objects.get(direction="in")
    assert (message.address, message.text, message.channel_id) == (
        "+447911123456",
        "Can I pay on Friday?",
        meta.pk,
    )
    assert message.provider_message_id == TEXT_FIXTURE_ID
    assert message.content["profile_name"] == "Ada Lovelace"
    assert Event.objects.get(name="message.received").properties["text"] == "Can I pay on Friday?"
    # Meta retries for days: the same message again is stored once
    assert post(client, meta, webhook("webhook_text.json")).status_code == 200
    assert Message.objects.filter(direction="in").count() == 1


def test_an_inbound_image_keeps_its_caption_and_media_object(client, workspace, meta):
    post(client, meta, webhook("webhook_image.json"))
    message = Message.objects.get(direction="in")
    assert message.text == "My receipt"
    assert message.content["media_urls"] == ["https://graph.facebook.com/v23.0/1048347946376112"]


@pytest.mark.parametrize(
    ("name", "button", "text"),
    [
        ("webhook_button_reply.json", "pay_now", "Pay now"),
        ("webhook_list_reply.json", "plan_3", "3 instalments"),
    ],
)
def test_a_button_or_list_reply_arrives_with_its_id(client, workspace, meta, name, button, text):
    post(client, meta, webhook(name))
    message = Message.objects.get(direction="in")
    assert message.content["button"] == {"id": button} and message.text == text
    assert Event.objects.get(name="message.received").properties["button"] == button


def test_an_inbound_message_opens_the_whatsapp_window(client, workspace, contact, meta, graph):
    post(client, meta, webhook("webhook_text.json"))
    # a free-form reply is now allowed by consent (no inbound_recorded by hand)
    received = Message.objects.get(direction="in").created_at
    message = message_send(
        workspace=workspace,
        contact=contact,
        channel="whatsapp",
        content={"text": "Yes, Friday is fine."},
        now=received,
    )
    assert message.status == S.QUEUED


def test_another_numbers_messages_are_not_taken_by_this_channel(client, workspace, meta):
    body = webhook("webhook_text.json", **{PHONE_NUMBER_ID: "999999999999"})
    assert post(client, meta, body).status_code == 200
    assert not Message.objects.filter(direction="in").exists()


def test_a_malformed_payload_is_400_and_nothing_is_stored(client, workspace, meta):
    for body in (
        b"not json",
        b'{"object": "whatsapp_business_account"}',
        b'{"entry": [{"changes": [{"field": "messages"}]}]}',
    ):
        assert post(client, meta, body).status_code == 400
    assert not Message.objects.filter(direction="in").exists()


# --- statuses ------------------------------------------------------------------------------------


def _sent(workspace, contact, graph):
    message = send(workspace, contact)
    drain(0)
    return message, fresh(message).provider_message_id


ORDERS = [
    ["sent", "delivered", "read"],
    ["read", "delivered", "sent"],
    ["delivered", "sent", "read"],
    ["delivered", "read", "sent"],
    ["sent", "read", "delivered"],
    ["read", "sent", "delivered"],
]


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_statuses_in_every_order_end_read_with_duplicates_applied_once(
    client, workspace, contact, meta, graph, order
):
    message, wamid = _sent(workspace, contact, graph)
    for i, status in enumerate(order + [order[0]]):  # and one duplicate
        assert (
            post(client, meta, status_webhook(wamid, status, at=int(at(10 + i).timestamp()))).status_code
            == 200
        )
    m = fresh(message)
    assert m.status == S.READ and m.read_at is not None
    assert m.status_events.filter(source="webhook", status=S.READ, applied=True).count() == 1


def test_a_failed_status_after_delivered_is_not_believed(client, workspace, contact, meta, graph):
    message, wamid = _sent(workspace, contact, graph)
    post(client, meta, status_webhook(wamid, "delivered"))
    post(
        client,
        meta,
        status_webhook(wamid, "failed", error={"code": 131026, "title": "Message undeliverable"}),
    )
    assert fresh(message).status == S.DELIVERED


def test_a_failed_status_131047_is_the_window_rule(client, workspace, contact, meta, graph):
    message, wamid = _sent(workspace, contact, graph)
    error = {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {"details": "Message failed to send because more than 24 hours have passed."},
    }
    post(client, meta, status_webhook(wamid, "failed", error=error))
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, "whatsapp.window")
    assert "more than 24 hours" in m.error_reason


def test_a_status_before_the_send_is_recorded_finds_its_message_by_reference(
    client, workspace, contact, meta
):
    message = send(workspace, contact)
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, claim_token="w1")
    post(client, meta, status_webhook("wamid.early", "delivered", reference=message.reference))
    m = fresh(message)
    assert m.status == S.DELIVERED and m.provider_message_id == "wamid.early"


# --- signatures and the verification challenge ---------------------------------------------------


def test_a_valid_signature_is_accepted(client, workspace, meta):
    assert post(client, meta, webhook("webhook_text.json")).status_code == 200


@pytest.mark.parametrize("how", ["tampered", "missing", "wrong secret", "no prefix", "empty", "sha1 header"])
def test_a_bad_signature_is_403_and_stored_nowhere(client, workspace, contact, meta, graph, how):
    message, wamid = _sent(workspace, contact, graph)
    events_before = message.status_events.count()
    body = webhook("webhook_text.json")
    good = "sha256=" + __import__("hmac").new(APP_SECRET.encode(), body, "sha256").hexdigest()
    cases = {
        "tampered": (body.replace(b"Can I pay on Friday?", b"Send me money"), good),
        "missing": (body, None),
        "wrong secret": (body, "sha256=" + __import__("hmac").new(b"other", body, "sha256").hexdigest()),
        "no prefix": (body, good.removeprefix("sha256=")),
        "empty": (body, ""),
        "sha1 header": (body, "sha1=" + good.removeprefix("sha256=")),
    }
    sent_body, header = cases[how]
    if header is None:
        response = post(client, meta, sent_body, sign=None)
    else:
        response = post(client, meta, sent_body, header=header)
    assert response.status_code == 403
    status = status_webhook(wamid, "delivered")
    assert post(client, meta, status, header="sha256=" + "0" * 64).status_code == 403
    assert not Message.objects.filter(direction="in").exists()
    assert fresh(message).status == S.SENT and fresh(message).status_events.count() == events_before
    assert not Event.objects.filter(name="message.received").exists()


def test_the_verify_token_challenge(client, workspace, meta):
    url = f"/webhooks/meta/{meta.webhook_token}/"
    ok = client.get(
        url, {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200 and ok.content == b"1158201444"
    wrong = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"})
    assert wrong.status_code == 403
    mode = client.get(
        url, {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}
    )
    assert mode.status_code == 403
    assert client.get("/webhooks/meta/not-a-token/", {"hub.mode": "subscribe"}).status_code == 404


# --- setup: credentials, numbers, templates ------------------------------------------------------


def test_testing_the_credentials_asks_meta_about_the_number(workspace, meta):
    ok, text = channel_test(channel=meta, actor=Actor.system("test"))
    assert ok and "+1 555-000-1234 (Demo Bank), quality GREEN" in text


def test_wrong_credentials_are_said_in_words(workspace, meta, graph):
    actor = Actor.system("test")
    settings = dict(meta.settings)
    check = channel_check(
        workspace=workspace, actor=actor, provider="meta", kind="whatsapp",
        credentials={"access_token": "EAAG-expired", "app_secret": APP_SECRET}, settings=settings,
    )  # fmt: skip
    assert not check.ok and "Meta refused the access token" in check.text and "(190)" in check.text
    check = channel_check(
        workspace=workspace, actor=actor, provider="meta", kind="whatsapp",
        credentials={"access_token": ACCESS_TOKEN, "app_secret": "not-the-apps-secret"}, settings=settings,
    )  # fmt: skip
    assert not check.ok and "app secret does not belong" in check.text
    check = channel_check(
        workspace=workspace, actor=actor, provider="meta", kind="whatsapp",
        credentials={"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET},
        settings={**settings, "phone_number_id": "123"},
    )  # fmt: skip
    assert not check.ok and "Meta does not know '123'" in check.text


def test_test_connection_lists_the_accounts_numbers(workspace, meta):
    check = channel_check(
        workspace=workspace, actor=Actor.system("test"), provider="meta", kind="whatsapp",
        credentials={"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET}, settings=meta.settings,
    )  # fmt: skip
    assert check.ok
    assert check.senders == [
        ("+15550001234", "Demo Bank (phone number ID 106540352242922)"),
        ("+447700900456", "Demo Bank Collections (phone number ID 106540352242923)"),
    ]


def test_templates_sync_with_status_and_category_and_only_approved_ones_are_offered(client, workspace, meta):
    ok, text = channel_templates_sync(channel=meta, actor=Actor.system("test"), now=at(0))
    assert ok and text == "4 templates read, 2 approved."
    rows = {t.name: t for t in ChannelTemplate.objects.filter(channel=meta)}
    assert (rows["payment_reminder"].status, rows["payment_reminder"].category) == ("approved", "utility")
    assert (rows["spring_offer"].status, rows["spring_offer"].reason) == ("rejected", "INVALID_FORMAT")
    assert rows["login_code"].category == "authentication"
    offered = {t.name: t for t in channel_templates(workspace=workspace, kind="whatsapp")}
    assert set(offered) == {"payment_reminder", "login_code"}
    assert offered["payment_reminder"].variables == (
        ("1", "Variable 1", "Ada"),
        ("2", "Variable 2", "£120.00"),
        ("3", "Variable 3", "5 March"),
    )
    # Meta's review webhook approves the pending one: offered at once, its body kept
    assert post(client, meta, webhook("webhook_template_status.json")).status_code == 200
    card = ChannelTemplate.objects.get(channel=meta, name="card_dispatched")
    assert card.status == "approved" and card.body == "Your new card is on its way, {{1}}."
    assert "card_dispatched" in {t.name for t in channel_templates(workspace=workspace, kind="whatsapp")}
    # a template rejected later is no longer offered
    rejected = webhook(
        "webhook_template_status.json", APPROVED="REJECTED", **{'"NONE"': '"INCORRECT_CATEGORY"'}
    )
    post(client, meta, rejected)
    card.refresh_from_db()
    assert (card.status, card.reason) == ("rejected", "INCORRECT_CATEGORY")
    assert "card_dispatched" not in {t.name for t in channel_templates(workspace=workspace, kind="whatsapp")}


def test_the_default_rate_follows_the_throughput_tier(workspace, graph):
    from channels_app.providers import get_provider

    meta = get_provider("meta")
    assert meta.default_rate("whatsapp", {}) == 80
    assert meta.default_rate("whatsapp", {"throughput": "1000"}) == 1000
    assert meta.default_rate("whatsapp", {"throughput": "20"}) == 20


def test_the_credentials_are_encrypted_at_rest(meta):
    assert ACCESS_TOKEN not in meta.credentials_encrypted and APP_SECRET not in meta.credentials_encrypted
    assert json.dumps(meta.settings).find(ACCESS_TOKEN) == -1


# --- any shape: a 200 or a 400, never a crash ------------------------------------------------

ODD = [None, "x", 7, True, [], {}, ["x"], {"a": 1}, "w" * 300]


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _replaced(doc, path, new):
    doc = json.loads(json.dumps(doc))
    if not path:
        return new
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return doc


@pytest.mark.parametrize(
    "name",
    [
        "webhook_text.json",
        "webhook_image.json",
        "webhook_button_reply.json",
        "webhook_status.json",
        "webhook_template_status.json",
    ],
)
def test_every_part_of_a_webhook_in_an_odd_shape_is_a_200_or_a_400(client, workspace, meta, name):
    from channels_app.providers.meta.fake import fixture

    doc = json.loads(fixture(name))
    answers = set()
    for path in _paths(doc):
        for odd in ODD:
            response = post(client, meta, json.dumps(_replaced(doc, path, odd)))
            assert response.status_code in (200, 400), (path, odd, response.status_code)
            answers.add(response.status_code)
    assert answers == {200, 400}


# --- 131047 closes consent's window ------------------------------------------------------------


@pytest.mark.parametrize("where", ["answer", "status"])
def test_meta_saying_131047_closes_the_window_until_the_contact_writes_again(
    client, workspace, contact, meta, graph, where
):
    # given consent believes the window open (an inbound 5 minutes ago), but Meta says it is not
    if where == "answer":
        graph.answer_next(400, "error_131047.json")
        send(workspace, contact)
        drain(0)
    else:
        first, wamid = _sent(workspace, contact, graph)
        error = {"code": 131047, "title": "Re-engagement message"}
        post(client, meta, status_webhook(wamid, "failed", error=error, at=int(at(10).timestamp())))
    # then the next free-form message is blocked by consent's window rule, not sent to be refused
    later = message_send(
        workspace=workspace, contact=contact, channel="whatsapp", content={"text": "Still there?"}, now=at(60)
    )
    assert (later.status, later.consent_rule) == (S.BLOCKED, "whatsapp.window")
    assert "WhatsApp said it was closed" in later.error_reason
    # a template may still go
    template = message_send(
        workspace=workspace, contact=contact, channel="whatsapp", now=at(60),
        content={"text": "Hi", "template": {"name": "payment_reminder", "language": "en_US", "variables": ["Ada"]}},
    )  # fmt: skip
    assert template.status == S.QUEUED
    # and the contact writing again opens it
    inbound_recorded(contact=contact, channel_kind="whatsapp", at=at(120))
    again = message_send(
        workspace=workspace, contact=contact, channel="whatsapp", content={"text": "Thanks!"}, now=at(121)
    )
    assert again.status == S.QUEUED


def test_a_template_named_without_its_language_takes_the_one_it_was_approved_in(
    workspace, contact, meta, graph
):
    # the inbox's template picker names the template only; Meta needs its approved language
    channel_templates_sync(channel=meta, actor=Actor.system("test"), now=at(0))
    send(
        workspace,
        contact,
        {"text": "Hello Ada", "template": {"name": "payment_reminder", "variables": ["Ada"]}},
    )
    send(workspace, contact, {"text": "Hi", "template": {"name": "payment_reminder", "language": "en_GB"}})
    drain(0)
    languages = sorted(b["template"]["language"]["code"] for b in graph.sends())
    assert languages == ["en_GB", "en_US"]  # given explicitly: kept as given
