"""An admin sets up a Vonage, Infobip or 8x8 channel through its typed form in a real browser,
against the app as `make run` serves it, with the provider's fake playing the provider (test
mode): only the provider's kinds, the URLs to paste before saving, Test connection says what is
wrong in words and then connects (filling the sender picker where the API lists numbers); once
saved, a message goes out through the dispatcher and the fake's own receipts, authenticated as
the provider does, mark it delivered."""

import time

import pytest
from django.utils.module_loading import import_string
from playwright.sync_api import expect

from channels_app.models import Channel, Message
from channels_app.services.messages import message_send
from tests.browser.screenshots import docs_screenshot
from tests.browser.test_csp import _watch
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

CASES = {
    # provider: (label, fake, kind, kinds offered, sender, the credential to get wrong, its error)
    "vonage": ("Vonage", "vonage.fake.FakeVonage", "sms", 5, "+447700900001", "api_secret", "refused the API key"),
    "infobip": ("Infobip", "infobip.fake.FakeInfobip", "sms", 4, "+447700900001", "api_key", "refused the API key"),
    "eightbyeight": ("8x8 CPaaS", "eightbyeight.fake.FakeEightByEight", "sms", 1, "DemoBank", "api_key", "refused the API key"),
}  # fmt: skip


def wait_for(check, timeout=30.0, why=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out: {why()}")


@pytest.mark.parametrize("provider", list(CASES))
def test_admin_sets_up_a_channel_and_a_message_is_delivered(server, login, admin_user, workspace, provider):
    label, fake_path, kind, kinds, sender, wrong_field, wrong_words = CASES[provider]
    fake = import_string(f"channels_app.providers.{fake_path}")(play_phone=True, receipt_delay_s=0.2).start()
    fake.webhook_origin = server.url  # the dispatcher names http://127.0.0.1:8000 (CHANNELS_PUBLIC_URL)
    credentials = import_string(f"channels_app.providers.{fake_path.rsplit('.', 1)[0]}.credentials")()
    try:
        Channel.objects.filter(workspace=workspace, kind=kind).update(status="disabled")  # the sandbox's
        page = login(admin_user, "/channels/")
        violations = _watch(page)
        page.get_by_role("link", name=f"Add {label} channel").click()
        expect(page.get_by_role("heading", name=f"New {label} channel")).to_be_visible()
        assert page.locator('[name="kind"] option').count() == kinds
        assert f"/webhooks/{provider}/" in page.locator("#webhook-1").input_value()

        page.locator('[name="kind"]').select_option(kind)
        page.locator('[name="name"]').fill(f"{label} SMS")
        for name, value in credentials.items():
            page.locator(f'[name="cred_{name}"]').fill(value)
        page.locator('[name="set_api_base"]').fill(fake.url)
        page.locator('[name="cred_' + wrong_field + '"]').fill("wrong")
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#connection")).to_contain_text(wrong_words)
        page.locator('[name="cred_' + wrong_field + '"]').fill(credentials[wrong_field])
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#connection")).to_contain_text("Connected")
        page.locator('[name="address"]').fill(sender)
        page.locator('[name="address"]').blur()
        docs_screenshot(page.locator("section.card.narrow"), f"channels-{provider}-setup.png")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#toasts")).to_contain_text(f"Channel {label} SMS added", timeout=20_000)
        channel = Channel.objects.get(name=f"{label} SMS")
        assert channel.rate_limit_per_second == 1  # the provider's default for a long-code SMS
        for value in credentials.values():
            if len(value) > 12 and "\n" not in value and value != credentials.get("application_id"):
                assert value not in page.content()

        contact = ContactFactory(workspace=workspace, first_name="Ada", phone="+447911123456")
        message = message_send(
            workspace=workspace, contact=contact, channel=kind, content={"text": "Your card is on its way."}
        )
        wait_for(
            lambda: Message.objects.get(pk=message.pk).status == "delivered",
            why=lambda: (
                Message.objects.get(pk=message.pk).status,
                Message.objects.get(pk=message.pk).error_reason,
            ),
        )
        assert fake.sends(), "the dispatcher did not call the provider"
        page.goto(f"{server.url}/messages/{message.pk}/")
        expect(page.locator("body")).to_contain_text("Delivered")
        assert violations == []
        server.assert_alive()
    finally:
        fake.stop()
