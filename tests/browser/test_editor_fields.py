"""Node panel fields in the browser (issue 16 items 8, 9): a wait typed as "2 days 4 h", and a
fallback chain picked from the workspace's channels, reordered and trimmed by clicking."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_editor_forms import add, applied, choose, type_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_wait_in_words_and_an_ordered_fallback_chain(login, marketer, workspace):
    from cpaas.tenancy import Actor
    from journeys.services import draft_for, journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Fields")
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()

    # a wait typed in words reads back in words, and a typo is refused next to the field
    panel = add(page, "wait.delay", "wait_delay_1")
    expect(page.locator("#cfg-seconds")).to_have_value("1 h")
    type_in(page, "#cfg-seconds", "2 days 4 h")
    expect(page.locator("#cfg-seconds")).to_have_value("2 days 4 h")
    type_in(page, "#cfg-seconds", "2 dayz")
    expect(panel.locator('[data-field="seconds"] .error')).to_contain_text("'dayz' is not a unit of time")
    expect(page.locator("#cfg-seconds")).to_have_value("2 dayz")  # as typed, to be corrected
    type_in(page, "#cfg-seconds", "3 days")

    # fallback channels: WhatsApp then Email, Email moved first, WhatsApp removed
    panel = add(page, "message.send", "message_send_1")
    choose(page, '[data-channel-add="cfg-fallback"]', "WhatsApp")
    choose(page, '[data-channel-add="cfg-fallback"]', "Email")
    expect(panel.locator("#cfg-fallback li [data-label]")).to_have_text(["WhatsApp", "Email"])
    applied(page, lambda: panel.get_by_role("button", name="Move Email up").click())
    expect(panel.locator("#cfg-fallback li [data-label]")).to_have_text(["Email", "WhatsApp"])
    applied(page, lambda: panel.get_by_role("button", name="Remove WhatsApp").click())
    expect(panel.locator("#cfg-fallback li [data-label]")).to_have_text(["Email"])
    expect(page.locator('[data-channel-add="cfg-fallback"] option', has_text="WhatsApp")).to_have_count(1)

    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)
    nodes = draft_for(journey).graph["nodes"]
    assert nodes["wait_delay_1"]["config"]["seconds"] == 3 * 86400
    assert nodes["message_send_1"]["config"]["fallback"] == ["email"]


def test_new_messages_take_the_journeys_purpose_or_ask(login, marketer, workspace):
    from cpaas.tenancy import Actor
    from journeys.services import journey_create

    journey = journey_create(
        workspace=workspace, actor=Actor.for_user(marketer), name="Promo", purpose="marketing"
    )
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()

    # in a marketing journey a new message is for marketing, not "transactional"
    add(page, "message.send", "message_send_1")
    expect(page.locator("#cfg-purpose")).to_have_value("marketing")

    # "ask each time": the next new message asks, as a problem in words on its field
    page.get_by_label("Messages are for").select_option(label="ask each time")
    expect(page.locator("#toasts")).to_contain_text("New messages will ask for their purpose")
    panel = add(page, "message.send", "message_send_2")
    expect(panel.locator('[data-field="purpose"]')).to_contain_text("Choose what this message is for")
    choose(page, "#cfg-purpose", "transactional")
    expect(panel.locator('[data-field="purpose"] .error')).to_have_count(0)
    journey.refresh_from_db()
    assert journey.purpose == ""
