"""Settings in a real browser (issue 16 item 18): a new API token is copied with one click."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_api_token_is_copied_by_its_button(server, login, context, admin_user):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = login(admin_user, "/settings/tokens/")
    page.get_by_label("Name").fill("Billing system")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("cpk_")

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
