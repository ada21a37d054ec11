"""The marketer's loop, walked in a real browser against `make run`'s demo data (issue 16): log in
as the demo marketer, create a journey from a template, change a message, test it on a searched
contact, see why nothing arrived (no marketing opt-in), fix consent, see the message in the test
panel's phone, publish, start one contact and see the counts move. Every click, fill and key
press is counted: the loop must take no more than 30."""

import datetime as dt

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)

MAX_INTERACTIONS = 30


class Counted:
    """The page's interactions, counted: what a person does by hand."""

    def __init__(self, page):
        self.page, self.n, self.log = page, 0, []

    def _count(self, what):
        self.n += 1
        self.log.append(what)

    def click(self, locator, what):
        self._count(f"click {what}")
        locator.click()

    def fill(self, locator, text, what):
        self._count(f"type {what}")
        locator.fill(text)

    def press(self, locator, key, what):
        self._count(f"press {key} in {what}")
        locator.press(key)


def test_the_marketers_loop_takes_at_most_30_interactions(server, context):
    from consent.models import ConsentPolicy
    from contacts.models import Contact
    from journeys.models import Journey

    call_command("demo_data", stdout=open("/dev/null", "w"))
    tester = Contact.objects.get(first_name="Tess", last_name="Tester")
    bank = tester.workspace
    # marketing keeps quiet hours (21:00-08:00): off, so the outcome does not follow the clock
    ConsentPolicy.objects.update_or_create(
        workspace=bank, defaults={"quiet_start": dt.time(0), "quiet_end": dt.time(0)}
    )

    page = context.new_page()
    you = Counted(page)
    page.goto(server.url + "/login/")

    # log in as the demo marketer
    you.fill(page.get_by_label("Username"), "marketer", "the user name")
    you.fill(page.get_by_label("Password"), "demo-pass-2026", "the password")
    you.click(page.get_by_role("button", name="Log in"), "Log in")

    # create a journey from a template
    you.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Journeys"), "Journeys")
    you.click(page.get_by_role("link", name="New journey"), "New journey")
    card = page.locator("form.tpl", has=page.locator('input[name="template"][value="churn_reengagement"]'))
    you.click(card.get_by_text("Use this template"), "Use this template")
    you.fill(card.get_by_label("Name of the new journey"), "Win back lapsed customers", "the journey's name")
    you.click(card.get_by_role("button", name="Create and open the editor"), "Create and open the editor")
    expect(page.locator("body[data-editor-ready]")).to_be_attached(timeout=15000)
    journey = Journey.objects.get(workspace=bank, name="Win back lapsed customers")

    # change its message
    graph = page.evaluate("window.editor.state.graph")
    first = graph["nodes"][graph["start"]]["exits"]["next"]
    assert graph["nodes"][first]["type"] == "message.send"
    you.click(page.locator(f'#canvas [model-id="{first}"] .body'), "the message on the canvas")
    text = page.locator("#cfg-template-en")
    you.fill(text, "We miss you, {{contact.first_name}}! Here is 20% off your next order.", "the message")
    you.press(text, "Tab", "the message")
    page.wait_for_function(  # the form's apply is asynchronous: the graph holds the new text, saved
        f"() => (window.editor.state.graph.nodes['{first}'].config.template.en || '').startsWith('We miss you')"
    )
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)

    # test it on a searched contact: nothing arrives, and the panel says why
    you.click(page.get_by_role("button", name="Test run"), "Test run")
    you.fill(page.get_by_label("Test contact"), "Tess", "the search")
    you.click(page.locator("#test-results").get_by_role("button", name="Tess Tester"), "Tess Tester")
    you.click(page.get_by_role("button", name="Start the test contact"), "Start the test contact")
    expect(page.locator("#test-status")).to_contain_text(
        "Not sent: No marketing opt-in on SMS", timeout=20000
    )
    expect(page.locator("#test-status")).to_contain_text("Finished")
    expect(page.locator("#test-phone .send-note.blocked")).to_contain_text("rule consent.missing")
    docs_screenshot(page, "loop-blocked.png")

    # fix consent (a test opt-in for the test contact), run again: the message is on the phone
    you.click(
        page.get_by_role("button", name="Record a test opt-in: marketing on SMS"), "Record a test opt-in"
    )
    expect(page.locator("#test-phone")).to_contain_text("Consent allows it now", timeout=10000)
    you.click(page.get_by_role("button", name="Restart"), "Restart")
    # sent this time: a bubble whose ticks are not the blocked one's, and the contact goes on
    sent = page.locator("#test-phone .bubble.from-business", has_text="We miss you, Tess! Here is 20% off",
                        has=page.locator(".ticks:not([data-status=blocked])"))  # fmt: skip
    expect(sent).to_be_visible(timeout=20000)
    expect(page.locator("#test-status")).to_contain_text("Waiting at 'Wait for app_opened'", timeout=20000)
    docs_screenshot(page, "loop-test-phone.png")

    # publish
    you.click(page.locator("#publish"), "Publish")
    you.fill(page.get_by_label("Note"), "Win-back, first version", "the note")
    you.click(page.get_by_role("button", name="Publish now"), "Publish now")
    expect(page.locator("#ed-status")).to_have_text("Live", timeout=10000)

    # start one contact from the journey page and see the counts move
    you.click(page.get_by_role("link", name="Back to the journey's page"), "Back to the journey's page")
    expect(page.locator("#journey-live dd").first).to_have_text("0")
    you.fill(page.get_by_label("A contact"), "Tess", "the search")
    expect(page.locator("#start-found")).to_contain_text("Tess Tester")
    you.click(page.get_by_role("button", name="Start for this contact"), "Start for this contact")
    expect(page.get_by_text("Starting Tess Tester")).to_be_visible()
    expect(page.locator("#journey-live dd").first).to_have_text("1", timeout=20000)
    docs_screenshot(page, "loop-counts.png")
    journey.refresh_from_db()
    assert journey.status == "live"

    print(f"the marketer's loop: {you.n} interactions: " + "; ".join(you.log))
    assert you.n <= MAX_INTERACTIONS, you.log
