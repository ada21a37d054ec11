"""An agent records a promise to pay from the contact panel of the inbox page, in a real
browser against the real server: a wrong date is refused beside the field, then the promise
shows in the panel and is stored for the journeys."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from journeys.models import PromiseToPay
from tests.factories import ContactFactory
from tests.inbox.panel_helpers import conversation, queue

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_records_a_promise_from_the_panel(server, login, agent, workspace):
    contact = ContactFactory(workspace=workspace, first_name="Nia", last_name="Okafor", phone="+447911123456",
                             timezone="Europe/London")  # fmt: skip
    conv = conversation(workspace, contact, queue(workspace, members=[agent]))
    page = login(agent, f"/inbox/c/{conv.number}/")
    panel = page.locator("#contact-panel")
    expect(panel.get_by_role("heading", name="Nia Okafor")).to_be_visible()
    panel.get_by_text("Record a promise to pay").click()
    form = panel.locator("#promise-form")
    form.get_by_label("Amount").fill("80")
    form.get_by_label("Currency").fill("GBP")
    yesterday = (timezone.now() - dt.timedelta(days=2)).date()
    form.get_by_label("Date").fill(yesterday.isoformat())
    form.get_by_role("button", name="Record the promise").click()
    expect(panel.locator("#promise-form")).to_contain_text("The date is in the past")
    assert not PromiseToPay.objects.exists()
    due = (timezone.now() + dt.timedelta(days=5)).date()
    panel.locator("#promise-form").get_by_label("Date").fill(due.isoformat())
    panel.locator("#promise-form").get_by_label("Remind by").select_option("sms")
    panel.locator("#promise-form").get_by_role("button", name="Record the promise").click()
    row = panel.locator("#panel-promises tbody tr").first
    expect(row).to_contain_text("80.00 GBP")
    expect(row).to_contain_text(due.isoformat())
    expect(row).to_contain_text("promised")
    promise = PromiseToPay.objects.get(contact=contact)
    assert (promise.due_date, promise.reminder_channel, promise.recorded_by_id) == (due, "sms", agent.pk)
