"""The configuration panel's row sub-forms in the browser: a marketer configures a condition split
with two rules, a question with a keyword branch and a number-range branch, and an A/B split with
two variants, by clicking and typing only, and the saved draft holds exactly that."""

import pytest
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def panel_of(page, nid):
    return page.locator(f'#panel:has(#config-meta[data-node="{nid}"])')


# htmx binds a swapped-in form's triggers when it settles (~20 ms after the swap): marks the
# form once that happened, so the next action never meets a form that cannot post yet
MARK_SETTLED = """() => {
  if (window.__markSettled) return;
  window.__markSettled = true;
  document.body.addEventListener('htmx:afterSettle', () => {
    const form = document.querySelector('#node-form');
    if (form) form.dataset.settled = '1';
  });
}"""


def applied(page, action):
    """Do something that posts the node form, and wait until the panel is the answer to it."""
    page.evaluate(MARK_SETTLED)
    page.evaluate("document.querySelector('#node-form').dataset.stale = '1'")
    action()
    expect(page.locator("#node-form[data-settled]:not([data-stale])")).to_be_attached()


def type_in(page, selector, text):
    field = page.locator(selector)
    field.fill(text)
    applied(page, lambda: field.press("Tab"))


def choose(page, selector, label):
    applied(page, lambda: page.locator(selector).select_option(label=label))


def add(page, node_type, nid):
    page.locator(f'.pal-item[data-type="{node_type}"]').click()
    expect(panel_of(page, nid)).to_be_visible()
    return panel_of(page, nid)


def test_configure_rules_branches_and_variants_by_clicking_and_typing(login, marketer, workspace):
    from cpaas.tenancy import Actor
    from journeys.services import draft_for, journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Sub-forms")
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()

    # a condition split: its first rule becomes "french" on the contact's language
    panel = add(page, "split.condition", "split_condition_1")
    expect(panel.locator("legend", has_text="Rules, in order")).to_be_visible()
    type_in(page, "#cfg-rules-0-exit", "french")
    choose(page, "#cfg-rules-0-c-0-source", "Contact field")
    expect(panel.get_by_text("Rule 1: choose the contact field.")).to_be_visible()
    expect(page.locator("#cfg-rules-0-c-0-op option:checked")).to_have_text("equals")
    type_in(page, "#cfg-rules-0-c-0-key", "language")
    type_in(page, "#cfg-rules-0-c-0-value", "fr")
    # a second rule on the entry event, added below, then moved above the first
    panel.get_by_role("button", name="Add rule").click()
    expect(page.locator("#cfg-rules-1-exit")).to_be_focused()
    type_in(page, "#cfg-rules-1-exit", "Big cart")
    choose(page, "#cfg-rules-1-c-0-source", "Event property")
    expect(page.locator('label[for="cfg-rules-1-c-0-key"]')).to_have_text("Event property")
    type_in(page, "#cfg-rules-1-c-0-key", "total")
    choose(page, "#cfg-rules-1-c-0-op", "is greater than")
    expect(panel.get_by_text("Rule 2: enter a value.")).to_be_visible()
    docs_screenshot(panel.locator("li.subrow").nth(1), "editor-rules.png")
    type_in(page, "#cfg-rules-1-c-0-value", "100")
    expect(panel.locator(".error")).to_have_count(0)
    applied(page, lambda: panel.get_by_role("button", name="Move rule 2 up").click())
    expect(page.locator("#cfg-rules-0-exit")).to_have_value("big_cart")
    expect(page.locator("#exit-pickers select")).to_have_count(3)  # big_cart, french, else
    assert page.evaluate("window.editor.state.exits.split_condition_1") == ["big_cart", "french", "else"]

    # a question: keywords widened, then a number-range branch
    panel = add(page, "message.ask", "message_ask_1")
    type_in(page, "#cfg-branches-0-values", "yes, y, sure")
    panel.get_by_role("button", name="Add branch").click()
    type_in(page, "#cfg-branches-1-exit", "score")
    choose(page, "#cfg-branches-1-match", "Number range")
    expect(page.locator("#cfg-branches-1-min")).to_be_visible()
    expect(page.locator("#cfg-branches-1-values")).to_be_hidden()
    type_in(page, "#cfg-branches-1-min", "1")
    type_in(page, "#cfg-branches-1-max", "5")
    expect(panel.locator(".error")).to_have_count(0)

    # an A/B split: two variants renamed and weighted, a third added and removed again
    panel = add(page, "split.ab", "split_ab_1")
    type_in(page, "#cfg-variants-0-exit", "control")
    type_in(page, "#cfg-variants-0-weight", "70")
    expect(panel.locator("[data-weight-total]")).to_contain_text(
        "Total: 120 %, not 100: the weights must add up to 100"
    )
    type_in(page, "#cfg-variants-1-exit", "new_copy")
    type_in(page, "#cfg-variants-1-weight", "30")
    expect(panel.locator("[data-weight-total]")).to_have_text("Total: 100 %")
    panel.get_by_role("button", name="Add variant").click()
    expect(panel.locator(".subrow")).to_have_count(3)
    applied(page, lambda: panel.get_by_role("button", name="Remove variant 3").click())
    expect(panel.locator(".subrow")).to_have_count(2)

    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)
    nodes = draft_for(journey).graph["nodes"]
    assert nodes["split_condition_1"]["config"] == {
        "rules": [
            {
                "exit": "big_cart",
                "conditions": [{"source": "event", "key": "total", "op": "gt", "value": "100"}],
            },
            {
                "exit": "french",
                "conditions": [{"source": "field", "key": "language", "op": "eq", "value": "fr"}],
            },
        ]
    }
    assert nodes["message_ask_1"]["config"] == {
        "template": {"en": "Reply YES or NO"},
        "timeout_s": 86400,
        "branches": [
            {"exit": "yes", "match": "keywords", "values": ["yes", "y", "sure"]},
            {"exit": "score", "match": "number", "min": 1, "max": 5},
        ],
    }
    assert nodes["split_ab_1"]["config"] == {
        "variants": [{"exit": "control", "weight": 70, "control": True}, {"exit": "new_copy", "weight": 30}]
    }


def test_webhook_body_check_merge_field_and_response_mapping(login, marketer, workspace):
    from cpaas.tenancy import Actor
    from journeys.services import draft_for, journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Hook")
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    panel = add(page, "webhook.call", "webhook_call_1")

    # a merge field inserted at the cursor, inside the JSON string
    body = page.locator("#cfg-body")
    body.fill('{"name": ""}')
    body.press("End")
    body.press("ArrowLeft")
    body.press("ArrowLeft")
    applied(
        page,
        lambda: panel.locator('[data-field="body"] select[data-merge]').select_option("contact.first_name"),
    )
    expect(page.locator("#cfg-body")).to_have_value('{"name": "{{contact.first_name}}"}')

    # Check names the line and column of a mistake; the server says the same next to the field
    page.locator("#cfg-body").fill('{\n  "name": "{{contact.first_name}}",\n}')
    applied(page, lambda: panel.get_by_role("button", name="Check").click())
    result = panel.locator("[data-json-result]")
    expect(result).to_contain_text('Not valid JSON at line 3, column 1: expected a "quoted" property name')
    expect(panel.locator('[data-field="body"] .error[role=alert]')).to_contain_text("(line 3, column 1)")
    expect(page.locator("#cfg-body")).to_be_focused()
    page.locator("#cfg-body").fill('{\n  "name": "{{contact.first_name}}"\n}')
    applied(page, lambda: panel.get_by_role("button", name="Check").click())
    expect(result).to_have_text("Valid JSON.")

    # the answer's order.status into the context variable order_status
    panel.get_by_role("button", name="Add mapping").click()
    expect(page.locator('label[for="cfg-map-0-key"]')).to_have_text("Context variable")
    expect(page.locator('label[for="cfg-map-0-value"]')).to_have_text("Response path")
    type_in(page, "#cfg-map-0-key", "order_status")
    type_in(page, "#cfg-map-0-value", "order.status")

    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)
    config = draft_for(journey).graph["nodes"]["webhook_call_1"]["config"]
    assert config == {
        "method": "POST",
        "url": "https://example.com/hook",
        "timeout_s": 5,
        "retries": 0,
        "body": {"name": "{{contact.first_name}}"},
        "map": {"order_status": "order.status"},
    }


def test_json_check_whose_post_lands_between_mousedown_and_mouseup_still_shows(login, marketer, workspace):
    """Pressing Check blurs the body, which posts it; when the answer redraws the panel before the
    button is released, the browser fires no click (down and up on different elements): the check
    must show all the same (it did not: CI saw the panel's default help text under load)."""
    from cpaas.tenancy import Actor
    from journeys.services import journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Hook")
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    panel = add(page, "webhook.call", "webhook_call_1")
    page.locator("#cfg-body").fill('{\n  "name": "x",\n}')
    check = panel.get_by_role("button", name="Check")
    check.scroll_into_view_if_needed()  # the side column is taller since the overview moved into it
    box = check.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    # when the button is pressed, the post's answer redraws the panel, and only then released
    applied(page, page.mouse.down)
    page.mouse.up()

    # then the result of the check shows, and the focus is back at the mistake
    expect(panel.locator("[data-json-result]")).to_contain_text("Not valid JSON at line 3, column 1")
    expect(page.locator("#cfg-body")).to_be_focused()
