"""The log-in page and the contact list, driven in headless Chromium against daphne."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_style_login_through_the_form(server, page, marketer):
    # given the log-in page
    page.goto(server.url + "/login/")
    # when the marketer types their credentials
    page.get_by_label("Username").fill("mark-marketer")
    page.get_by_label("Password").fill("secret-pass-123")
    page.get_by_role("button", name="Log in").click()
    # then they land on the home dashboard of their workspace
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    expect(page.get_by_text("Workspace A")).to_be_visible()


def test_repeated_wrong_passwords_lock_the_log_in_and_the_page_says_so(server, page, marketer, settings):
    page.goto(server.url + "/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("mark-marketer")
        page.get_by_label("Password").fill("wrong-password")
        page.get_by_role("button", name="Log in").click()
    page.get_by_label("Username").fill("mark-marketer")
    page.get_by_label("Password").fill("secret-pass-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed log-ins")
    expect(page.get_by_role("heading", name="Home")).to_have_count(0)
