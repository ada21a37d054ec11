"""The segment editor in the browser (issue 16 item 6): a rule of every kind (tag, event,
attribute, contact field) typed in one form, none hiding another, no error before typing."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_segment_with_a_rule_of_every_kind(login, marketer, workspace):
    from contacts.models import Segment
    from tests.factories import AttributeDefinitionFactory, ContactFactory, TagFactory

    AttributeDefinitionFactory(workspace=workspace, key="plan", label="Plan", type="text")
    vip = TagFactory(workspace=workspace, name="vip")
    ContactFactory(workspace=workspace, language="fr", attributes={"plan": "gold"}).tags.add(vip)
    page = login(marketer, "/contacts/segments/new/")
    expect(page.locator("#rules .error, #rules .form-errors")).to_have_count(0)  # nothing typed yet
    page.get_by_label("Name *").fill("French gold VIPs")

    page.evaluate(
        "document.body.addEventListener('htmx:afterSettle', () => { window.__settled = (window.__settled || 0) + 1; })"
    )

    def settle(action=None):
        """Do `action` (one that redraws the rules) and wait until htmx has settled its answer."""
        if action is None:
            page.wait_for_load_state("networkidle")
            return
        before = page.evaluate("window.__settled || 0")
        action()
        page.wait_for_function("(b) => (window.__settled || 0) > b", arg=before)

    settle(lambda: page.get_by_label("Rule 1 tag name").fill("vip"))
    expect(page.locator("#segment-count")).to_have_text("1")
    kinds = [("Event", "Rule 2 event name", "signup"), ("Plan (text)", "Rule 3 value", "gold"),
             ("Language", "Rule 4 value", "fr")]  # fmt: skip
    for n, (field, label, value) in enumerate(kinds, start=2):
        settle(lambda: page.get_by_role("button", name="+ Add rule").click())
        settle(lambda n=n, field=field: page.get_by_label(f"Rule {n} field").select_option(label=field))
        if field == "Event":
            settle(
                lambda n=n: page.get_by_label(f"Rule {n} condition").select_option(label="did not perform")
            )
        settle(lambda label=label, value=value: page.get_by_label(label).fill(value))  # the count's refresh
        # typing refreshes the count only: the rules typed before stay as they are
        expect(page.get_by_label("Rule 1 tag name")).to_have_value("vip")
    # every rule still there, as typed
    for label, value in [("Rule 1 tag name", "vip"), *[(lab, v) for _, lab, v in kinds]]:
        expect(page.get_by_label(label)).to_have_value(value)
    expect(page.locator("#segment-count")).to_have_text("1")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_text("Segment 'French gold VIPs' saved.")).to_be_visible()
    rules = Segment.objects.get(name="French gold VIPs").definition["rules"]
    assert [(r["field"], r.get("value")) for r in rules] == [
        ("tag", "vip"),
        ("event", "signup"),
        ("attribute", "gold"),
        ("language", "fr"),
    ]
