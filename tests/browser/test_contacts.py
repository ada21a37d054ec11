"""A marketer's first minutes: log in as the demo marketer, create a contact, find it; and a
contact created elsewhere appears on the open list without a reload."""

import json
import urllib.request

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from cpaas.models import Workspace

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_marketer_creates_a_contact_and_finds_it_by_search(server, page):
    # given the demo workspace and users, as `make run` loads them
    call_command("demo_data", stdout=open("/dev/null", "w"))
    page.goto(server.url + "/")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill("demo-pass-2026")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    page.get_by_role("link", name="Contacts", exact=True).click()
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()

    # when they create a contact, first with a bad phone number
    page.get_by_role("link", name="New contact").click()
    page.get_by_label("First name").fill("Wanjiru")
    page.get_by_label("Last name").fill("Kamau")
    page.get_by_label("Phone").fill("07911 12")
    page.get_by_role("button", name="Save").click()
    # then the error is next to the phone field
    expect(page.locator(".field.has-error")).to_contain_text("not a valid phone number")
    page.get_by_label("Phone").fill("07911 123456")
    page.get_by_label("Time zone").fill("Africa/Nairobi")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Wanjiru Kamau")).to_be_visible()
    expect(page.get_by_text("+447911123456")).to_be_visible()

    # and find it again by typing part of the name in the search box (htmx, no reload)
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("searchbox", name="Search contacts").fill("wanj")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Wanjiru Kamau")
    # by the phone number as a person writes it, too
    page.get_by_role("searchbox", name="Search contacts").fill("07911 123456")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Wanjiru Kamau")


def test_contact_created_through_the_api_appears_on_the_open_list(server, login, marketer, api_token):
    # given the contact list open in the browser, connected live
    page = login(marketer, "/contacts/")
    expect(page.locator("html[data-live=connected]")).to_have_count(1)

    # when another system creates a contact through the API
    body = json.dumps({"first_name": "Live", "last_name": "Arrival", "phone": "+447911123777"}).encode()
    request = urllib.request.Request(
        server.url + "/api/v1/contacts/",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {api_token.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201

    # then it appears at the top of the list without a reload
    expect(page.locator("#results tbody tr").first).to_contain_text("Live Arrival", timeout=5000)


def test_a_contact_of_another_workspace_never_appears(server, login, marketer, other_workspace):
    from contacts.services import contact_create
    from cpaas.tenancy import Actor

    page = login(marketer, "/contacts/")
    expect(page.locator("html[data-live=connected]")).to_have_count(1)
    contact_create(
        workspace=other_workspace,
        actor=Actor.system(),
        data={"first_name": "Elsewhere", "email": "e@example.com"},
    )
    contact_create(
        workspace=Workspace.objects.get(slug="ws-a"),
        actor=Actor.system(),
        data={"first_name": "Here", "email": "h@example.com"},
    )
    expect(page.locator("#results")).to_contain_text("Here", timeout=5000)
    expect(page.locator("#results")).not_to_contain_text("Elsewhere")
