"""The test-run panel in the browser (issue 16 items 1-3): a phone made for the panel, a test
contact made in place (a typo keeps what was typed), the status following the contact to its
end, and a send blocked by consent shown with its rule and reason."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db(transaction=True)


def test_make_a_test_contact_run_the_draft_and_see_why_nothing_arrived(login, marketer, workspace):
    from consent.models import ConsentPolicy
    from cpaas.tenancy import Actor
    from journeys.services import journey_create

    ConsentPolicy.objects.create(workspace=workspace, quiet_start=dt.time(0), quiet_end=dt.time(0))
    g = linear(("trigger.manual", {}),
               ("message.send", {"channel": "sms", "purpose": "marketing", "template": {"en": "20% off today"}}))  # fmt: skip
    g["nodes"]["n1"]["exits"]["failed"] = None
    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Promo", graph=g)
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    page.get_by_role("button", name="Test run").click()

    # the phone fits the panel: no frame, as wide as the panel
    expect(page.locator("#test-phone .phone")).to_be_visible()
    assert page.locator("#test-run iframe").count() == 0
    assert page.locator("#test-phone .phone").bounding_box()["width"] > 300

    # a new test contact: a phone number too short is refused, and what was typed stays
    expect(page.locator("#test-new")).to_have_attribute("open", "")  # no contacts yet: open at once
    page.get_by_role("textbox", name="Name").fill("Tia Test")
    page.get_by_role("textbox", name="Phone").fill("07911 12")
    page.get_by_role("button", name="Create and choose").click()
    expect(page.locator("#test-new .error")).to_be_visible()
    expect(page.get_by_role("textbox", name="Name")).to_have_value("Tia Test")
    page.get_by_role("textbox", name="Phone").fill("07911 123999")
    page.get_by_role("button", name="Create and choose").click()
    expect(page.locator("#test-chosen")).to_contain_text("Tia Test · +447911123999")

    # run: the status follows it to the end, and says the send was blocked and why
    page.get_by_role("button", name="Start the test contact").click()
    status = page.locator("#test-status")
    expect(status).to_contain_text("Finished: Not sent: No marketing opt-in on SMS", timeout=20000)
    expect(page.locator("#test-steps")).to_contain_text("20% off today → failed")
    expect(page.locator("#test-phone .send-note.blocked")).to_contain_text("rule consent.missing")
