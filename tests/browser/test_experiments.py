"""Seed 003's promise-to-pay wording test, end to end in the browser: a marketer adds an A/B split
between a friendly and a firm reminder in the editor, names the arms and sets the goal in the
node's panel (an unknown goal event is refused next to its field), plans the sample on the
experiment page, publishes, a simulated population goes through the running server's engine
(contacts who got the firm wording pay more often), and the marketer refreshes the results,
reads them and declares the winner; new entrants then take the winner's exit."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)

FRIENDLY = "Hi {{contact.first_name}}, a friendly reminder: your payment is due. Reply PAY to pay now or LATER to choose a date."
FIRM = "{{contact.first_name}}, your payment is overdue. Pay today to avoid a late fee: reply PAY."
POPULATION = 400


def reminder(text, y):
    # transactional: the collections purpose keeps quiet hours (21:00-08:00), which would make
    # this test depend on the time of day it runs
    return {"type": "message.send", "exits": {"next": None, "failed": None},
            "position": {"x": 700, "y": y},
            "config": {"channel": "sms", "purpose": "transactional", "template": {"en": text}}}  # fmt: skip


def panel_of(page, nid):
    return page.locator(f'#panel:has(#config-meta[data-node="{nid}"])')


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


def wait_for(predicate, timeout=90.0, what=""):
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_the_promise_to_pay_wording_test_end_to_end(login, marketer, workspace):
    from contacts.models import Contact
    from contacts.services import event_record
    from cpaas.tenancy import Actor
    from experiments.models import Experiment, ExperimentAssignment
    from journeys.models import Step
    from journeys.services import draft_for, journey_create, journey_start

    actor = Actor.for_user(marketer)
    graph = {"schema": 1, "start": "trigger", "nodes": {
        "trigger": {"type": "trigger.manual", "config": {}, "exits": {"next": None}, "position": {"x": 20, "y": 40}},
        "friendly": reminder(FRIENDLY, 20), "firm": reminder(FIRM, 420)}}  # fmt: skip
    journey = journey_create(workspace=workspace, actor=actor, name="Promise to pay", graph=graph)
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()

    # the marketer adds an A/B split and names its arms in the panel; the control is marked
    page.locator('.pal-item[data-type="split.ab"]').click()
    panel = panel_of(page, "split_ab_1")
    expect(panel).to_be_visible()
    expect(page.locator("#cfg-variants-0-control")).to_be_checked()
    type_in(page, "#cfg-experiment", "Promise-to-pay wording")
    type_in(page, "#cfg-variants-0-name", "Friendly")
    type_in(page, "#cfg-variants-1-name", "Firm")
    # weights that do not add up to 100 are refused next to the variants
    type_in(page, "#cfg-variants-1-weight", "40")
    expect(panel.locator("[data-weight-total]")).to_contain_text("not 100: the weights must add up to 100")
    type_in(page, "#cfg-variants-1-weight", "50")
    expect(panel.locator("[data-weight-total]")).to_have_text("Total: 100 %")
    panel.locator("select[data-exit='a']").select_option("friendly")
    panel.locator("select[data-exit='b']").select_option("firm")
    page.locator('#canvas [model-id="trigger"] .body').click()
    panel_of(page, "trigger").locator("select[data-exit='next']").select_option("split_ab_1")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)

    # the split's panel shows its experiment (made when the draft was saved) and edits its goal
    page.locator('#canvas [model-id="split_ab_1"] .body').click()
    box = panel_of(page, "split_ab_1").locator("#node-experiment")
    expect(box.locator("#experiment-live-status")).to_have_text("Draft", timeout=10000)
    box.get_by_label("Hypothesis").fill(
        "A firm reminder gets more payments within 7 days than the friendly one."
    )
    box.get_by_label("Goal event").fill("payment_complete")
    box.get_by_role("button", name="Save the experiment").click()
    expect(box.locator(".has-error")).to_contain_text("No 'payment_complete' event has been received")
    box.get_by_label("Goal event").fill("payment_completed")
    box.get_by_role("button", name="Save the experiment").click()
    expect(box.locator(".error")).to_have_count(0)
    expect(box.get_by_label("Goal event")).to_have_value("payment_completed")
    docs_screenshot(box, "editor-experiment.png")
    config = draft_for(journey).graph["nodes"]["split_ab_1"]["config"]
    assert config["variants"] == [{"exit": "a", "weight": 50, "name": "Friendly", "control": True},
                                  {"exit": "b", "weight": 50, "name": "Firm"}]  # fmt: skip

    # on the experiment page they plan the sample: 10 % pay today, a doubling is worth finding
    box.get_by_role("link", name="Open the experiment page").click()
    expect(page.locator("h1")).to_have_text("Promise-to-pay wording")
    page.get_by_label("Control's expected rate (%)").fill("10")
    page.get_by_label("Smallest effect worth finding (relative %)").fill("100")
    page.get_by_label("Power (%)").fill("80")
    page.get_by_label("Minimum runtime (days)").fill("0")
    page.get_by_label(re.compile("Sequential mode")).check()
    page.get_by_label("Opt-out rate", exact=True).check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#per-arm")).to_have_text("199")
    expect(page.locator("#draft-note")).to_contain_text("starts when the journey is published")

    # they publish the journey from its page: the experiment starts
    page.goto(f"{page.url.split('/experiments/')[0]}/journeys/{journey.pk}/")
    page.get_by_label("Note for this version").fill("Promise-to-pay wording test")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#journey-status")).to_have_text("Live")
    experiment = Experiment.objects.get(journey_id=journey.pk, node="split_ab_1")
    assert experiment.status == "running" and experiment.goal_event == "payment_completed"

    # a population goes through the running engine; those who got the firm reminder pay more
    contacts = Contact.objects.bulk_create(
        [
            Contact(workspace=workspace, first_name=f"P{i}", phone=f"+4477009{i:05d}")
            for i in range(POPULATION)
        ]
    )
    journey_start(journey=journey, actor=actor, contact_ids=[c.pk for c in contacts])
    wait_for(lambda: ExperimentAssignment.objects.filter(experiment=experiment).count() == POPULATION,
             what="every contact assigned")  # fmt: skip
    now = timezone.now()
    arms = dict(
        ExperimentAssignment.objects.filter(experiment=experiment).values_list("contact_id", "variant")
    )
    for i, contact in enumerate(contacts):
        pays = (i % 10 == 0) if arms[contact.pk] == "a" else (i % 10 < 3)  # 10 % against 30 %
        if pays:
            event_record(
                workspace=workspace, contact=contact, name="payment_completed", properties={}, now=now
            )
    a_pay = sum(1 for i, c in enumerate(contacts) if arms[c.pk] == "a" and i % 10 == 0)
    b_pay = sum(1 for i, c in enumerate(contacts) if arms[c.pk] == "b" and i % 10 < 3)

    # they refresh the results and read them
    page.goto(f"{page.url.split('/journeys/')[0]}/experiments/{experiment.pk}/")
    expect(page.locator("#experiment-status")).to_have_text("Running")
    page.get_by_role("button", name="Refresh results").click()
    expect(page.locator("#arms")).to_be_visible(timeout=15000)
    arm_b = page.locator('#arms tr[data-arm="b"]')
    n_b = sum(1 for v in arms.values() if v == "b")
    expect(arm_b.locator("td").nth(0)).to_have_text(str(n_b))
    expect(arm_b.locator("td").nth(1)).to_have_text(str(b_pay))
    expect(page.locator('#arms tr[data-arm="a"] td').nth(1)).to_have_text(str(a_pay))
    expect(page.locator("#summary")).to_contain_text("Firm")
    expect(page.locator("#srm")).to_contain_text("as planned")
    chance = float(re.search(r"([\d.]+) %", arm_b.locator("td").nth(6).inner_text()).group(1))
    assert chance > 99
    expect(page.locator("canvas[data-chart='chart-rate']")).to_be_visible()
    docs_screenshot(page, "experiment-page.png")
    page.get_by_role("link", name="Experiments", exact=True).click()
    row = page.locator(f'#experiments tr[data-experiment="{experiment.pk}"]')
    expect(row).to_contain_text("Firm")
    expect(row).to_contain_text("> 99.9 %")
    docs_screenshot(page.locator("main"), "experiment-list.png")
    row.get_by_role("link", name="Promise-to-pay wording").click()

    # and declare the winner: new entrants take the firm reminder, the decision is on record
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Winner", exact=True).select_option(label="Firm")
    page.get_by_label("Why (kept with the decision)").fill("Firm wording: 3x the payments, no more opt-outs")
    page.get_by_role("button", name="Declare the winner").click()
    expect(page.locator("#experiment-status")).to_have_text("Decided")
    expect(page.locator("#decisions")).to_contain_text("Winner: Firm")
    expect(page.locator("#decisions")).to_contain_text("3x the payments")

    late = [
        Contact.objects.create(workspace=workspace, first_name=f"L{i}", phone=f"+4477008{i:05d}")
        for i in range(6)
    ]
    journey_start(journey=journey, actor=actor, contact_ids=[c.pk for c in late])
    split_steps = Step.objects.filter(journey=journey, node="split_ab_1", enrollment__contact__in=late)
    wait_for(
        lambda: split_steps.exclude(exit="").count() == len(late), what="the late entrants through the split"
    )
    assert set(split_steps.values_list("exit", flat=True)) == {"b"}
