"""The screens issue 11 added, clicked through as their users would: the consent review list
(an admin opts out a possible revocation), the verification settings (limits against SMS
pumping), and inviting a user who then creates an account from the link."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from consent.models import KeywordReview, Suppression
from consent.services import inbound_keyword
from cpaas.models import Membership
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_opts_out_a_reply_waiting_on_the_review_list(login, workspace, admin_user):
    contact = ContactFactory(workspace=workspace, first_name="Rita", phone="+447911123456")
    inbound_keyword(
        contact=contact,
        channel_kind="sms",
        text="cancel my order",
        at=timezone.now(),
        inbound_message_id="r1",
    )
    page = login(admin_user, "/consent/")

    page.get_by_role("link", name="To review").click()
    row = page.locator("tr", has_text="cancel my order")
    expect(row).to_contain_text("Rita")
    row.get_by_role("button", name="Opt out").click()

    expect(page.get_by_text("Opted out.")).to_be_visible()
    expect(page.get_by_text("Nothing to review.")).to_be_visible()
    expect(page.locator("section", has_text="Decided lately")).to_contain_text("cancel my order")
    assert KeywordReview.objects.get(contact=contact).decision == "opted_out"
    assert Suppression.objects.filter(workspace=workspace, channel_kind="sms").exists()


def test_an_admin_tightens_the_verification_limits(login, workspace, admin_user):
    page = login(admin_user, reverse("verification_list"))
    page.locator("#main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Against SMS pumping")).to_be_visible()

    # a value out of range is refused next to its field
    page.get_by_label("Per number, per 10 minutes").fill("-3")
    page.get_by_label("Resend cooldown (s)").fill("45")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field", has=page.get_by_label("Per number, per 10 minutes"))).to_contain_text(
        "A whole number from 1 to 1,000."
    )
    expect(page.get_by_label("Resend cooldown (s)")).to_have_value("45")  # what was typed stays
    expect(page.get_by_text("Verification settings saved.")).to_have_count(0)

    page.get_by_label("Per number, per 10 minutes").fill("3")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Verification settings saved.")).to_be_visible()
    expect(page.get_by_label("Per number, per 10 minutes")).to_have_value("3")
    expect(page.get_by_label("Resend cooldown (s)")).to_have_value("45")


def test_an_invited_person_creates_an_account_from_the_link_and_joins(
    login, server, browser, workspace, admin_user
):
    page = login(admin_user, "/settings/users/")
    page.get_by_label("Email").fill("nia@bank.example")
    page.get_by_label("Role").select_option(label="Agent")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invitations")).to_contain_text("nia@bank.example")

    # the link, shown once to the admin (and sent by email), opened by someone without an account
    link = page.locator("#invitation-link").inner_text()
    stranger = browser.new_context().new_page()
    stranger.goto(link)
    expect(stranger.get_by_role("heading", name=f"Join {workspace.name}")).to_be_visible()
    stranger.get_by_label("Choose a user name").fill("nia")
    stranger.get_by_label("Choose a password").fill("a long new pass 2026")
    stranger.get_by_label("The password again").fill("a long new pass 2026")
    stranger.get_by_role("button", name="Create account and join").click()

    expect(stranger.get_by_text("nia · agent")).to_be_visible()  # logged in, in the workspace
    user = get_user_model().objects.get(username="nia")
    assert Membership.objects.get(user=user, workspace=workspace).role == "agent"
    page.goto(server.url + reverse("user_list"))
    expect(page.locator("#invitations")).not_to_contain_text("nia@bank.example")
