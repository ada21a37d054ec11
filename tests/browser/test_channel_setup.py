# ruff: noqa: F811  (the fixtures imported from other test modules are parameters here)
"""An admin sets up a WhatsApp channel on Meta's Cloud API through the typed form, in a real
browser against the app as `make run` serves it, with the fake Graph API playing Meta: the
callback URL is there to copy before saving, Test connection names the number and fills the
sender picker, the templates sync with their review status; then a journey sends an approved
template through that channel, and the fake's signed status webhooks mark it delivered."""

import time

import pytest
from playwright.sync_api import expect

from channels_app.models import Channel, Message
from channels_app.providers.meta.fake import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, WABA_ID, FakeGraph
from tests.browser.screenshots import docs_screenshot
from tests.browser.test_csp import _watch
from tests.factories import ContactFactory
from tests.journeys.conftest import actor, fire, graph, node, publish  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def graph_api():
    fake = FakeGraph().start()
    fake.receipt_delay_s = 0.2
    yield fake
    fake.stop()


def wait_for(check, timeout=30.0, why=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out: {why()}")


def test_admin_sets_up_whatsapp_on_meta_and_a_journey_sends_a_template(
    server, login, admin_user, workspace, graph_api, publish, fire
):
    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(status="disabled")  # the sandbox's
    page = login(admin_user, "/channels/")
    violations = _watch(page)
    page.get_by_role("link", name="Add Meta WhatsApp Cloud API channel").click()
    expect(page.get_by_role("heading", name="New Meta WhatsApp Cloud API channel")).to_be_visible()

    # only WhatsApp, no JSON; the callback URL and a verify token are there before saving
    assert page.get_by_label("Kind").locator("option").all_inner_texts() == ["WhatsApp"]
    callback = page.get_by_label("Callback URL")
    assert "/webhooks/meta/" in callback.input_value()
    assert len(page.get_by_label("Webhook verify token").input_value()) >= 20
    expect(page.get_by_role("button", name="Copy")).to_be_visible()

    page.get_by_label("Name").fill("WhatsApp (Meta)")
    page.get_by_label("Access token (system user)").fill(ACCESS_TOKEN)
    page.get_by_label("App secret").fill(APP_SECRET)
    page.get_by_label("Phone number ID").fill(PHONE_NUMBER_ID)
    page.get_by_label("WhatsApp Business Account ID").fill(WABA_ID)
    page.get_by_label("Throughput tier").select_option("80")
    page.get_by_label("API base URL (optional)").fill(graph_api.url)

    # a wrong token first: said in words
    page.get_by_label("Access token (system user)").fill("EAAG-expired")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection")).to_contain_text("Meta refused the access token")
    page.get_by_label("Access token (system user)").fill(ACCESS_TOKEN)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection")).to_contain_text("Connected")
    expect(page.locator("#connection")).to_contain_text("+1 555-000-1234 (Demo Bank)")
    expect(page.locator("#senders option")).to_have_count(2)  # the sender picker
    page.get_by_label("WhatsApp number").fill("+15550001234")
    docs_screenshot(page.locator("section.card.narrow"), "channels-meta-setup.png")
    page.get_by_role("button", name="Save").click()

    # the channel page: secrets never shown back; templates synced with their status
    expect(page.locator("#toasts")).to_contain_text("Channel WhatsApp (Meta) added")
    assert ACCESS_TOKEN not in page.content() and APP_SECRET not in page.content()
    page.get_by_role("button", name="Sync templates").click()
    expect(page.locator("#toasts")).to_contain_text("4 templates read, 2 approved.")
    rows = page.locator("#templates tbody tr")
    expect(rows.filter(has_text="payment_reminder")).to_contain_text("approved")
    expect(rows.filter(has_text="spring_offer")).to_contain_text("rejected")
    channel = Channel.objects.get(name="WhatsApp (Meta)")
    assert channel.rate_limit_per_second == 80 and channel.webhook_token in callback_value(page)

    # Meta (the fake) sends its statuses to the callback URL shown
    graph_api.webhook_url = f"{server.url}/webhooks/meta/{channel.webhook_token}/"
    # a journey sends the approved template, outside any 24-hour window
    contact = ContactFactory(workspace=workspace, first_name="Ada", phone="+447911123456")
    fire(ContactFactory(workspace=workspace), "payment.due")
    publish(
        graph(
            trigger=node("trigger.event", {"event": "payment.due"}, next="remind"),
            remind=node(
                "message.send",
                {
                    "channel": "whatsapp",
                    "purpose": "transactional",  # no quiet hours: the test runs at any hour
                    "template": {"en": "Hello {{contact.first_name}}, your payment is due."},
                    "wa_template": "payment_reminder|en_US",
                    "wa_template_variables": ["{{contact.first_name}}", "£120.00", "5 March"],
                },
                next=None,
                failed=None,
            ),
        )
    )
    fire(contact, "payment.due")
    sent = wait_for(
        lambda: graph_api.sends(),
        why=lambda: list(
            Message.objects.values_list("kind", "status", "error_code", "error_reason", "channel__name")
        ),
    )
    assert sent[0]["template"]["name"] == "payment_reminder"
    assert [p["text"] for p in sent[0]["template"]["components"][0]["parameters"]] == [
        "Ada",
        "£120.00",
        "5 March",
    ]
    message = Message.objects.get(contact=contact, direction="out")
    wait_for(lambda: Message.objects.get(pk=message.pk).status == "delivered")
    page.goto(f"{server.url}/messages/{message.pk}/")
    expect(page.locator("body")).to_contain_text("Delivered")
    assert violations == []
    server.assert_alive()


def callback_value(page) -> str:
    page.goto(page.url)
    return page.get_by_label("Callback URL").input_value()
