"""An admin, in a real browser against the real server, opts a contact out of marketing SMS with
a reason and sees the entry in the contact's consent history."""

import pytest
from playwright.sync_api import expect

from consent.models import ConsentEvent
from tests.consent.conftest import erase_all_consent_events
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _consent_events_erased_after():
    yield
    erase_all_consent_events()


def test_admin_opts_a_contact_out_of_marketing_sms_with_a_reason(server, login, admin_user, workspace):
    # given a contact with an SMS marketing opt-in
    from django.utils import timezone

    from consent.services import consent_change
    from cpaas.tenancy import Actor

    contact = ContactFactory(
        workspace=workspace, first_name="Wanjiru", last_name="Kamau", phone="+447911123456"
    )
    consent_change(
        contact=contact, channel_kind="sms", purpose="marketing", status="opted_in", actor=Actor.system("web"),
        method="web_form", reason="Signed up at checkout", evidence={"notice_text": "Texts about offers"},
        at=timezone.now(),
    )  # fmt: skip

    # when the admin finds them from the Consent section
    page = login(admin_user, "/contacts/")
    page.get_by_role("link", name="Consent", exact=True).click()
    page.get_by_role("searchbox", name="Search by name, phone or email").fill("07911 123456")
    page.get_by_role("link", name="Wanjiru Kamau").click()
    expect(page.get_by_role("heading", name="Consent · Wanjiru Kamau")).to_be_visible()
    sms_marketing = page.locator('tr[data-channel="sms"] td[data-purpose="marketing"]')
    expect(sms_marketing.locator(".badge")).to_have_text("Opted in")

    # and changes SMS marketing to opted out, first forgetting the reason
    page.get_by_role("link", name="Change SMS Marketing").click()
    form = page.locator("#change-form")
    expect(form.get_by_label("Channel")).to_have_value("sms")
    expect(form.get_by_label("Purpose")).to_have_value("marketing")
    form.get_by_label("New status").select_option("opted_out")
    form.get_by_label("How the person told us").select_option("agent_verbal")
    form.get_by_role("button", name="Record change").click()
    reason = form.get_by_label("Reason")
    assert reason.evaluate("el => el.validity.valueMissing")  # the browser asks for it first
    assert ConsentEvent.objects.count() == 1  # nothing recorded without a reason
    reason.fill("Customer asked on the phone, call ref 5521")
    form.get_by_role("button", name="Record change").click()

    # then the matrix and the history show it, with who, how and why
    expect(page.locator("#toasts")).to_contain_text("SMS marketing: opted out")
    expect(sms_marketing.locator(".badge")).to_have_text("Opted out")
    entry = page.locator("#history li").first
    expect(entry).to_contain_text("Opted out")
    expect(entry).to_contain_text("marketing on SMS")
    expect(entry).to_contain_text("Customer asked on the phone, call ref 5521")
    expect(entry).to_contain_text("Told an agent")
    expect(entry).to_contain_text(admin_user.username)
    event = ConsentEvent.objects.order_by("-id").first()
    assert (event.new_status, event.previous_status, event.actor_label) == (
        "opted_out",
        "opted_in",
        admin_user.username,
    )
