"""The design system on real pages (docs/ui.md): each status badge has its own colour as the
browser draws it (Live, Draft, allowed, deny, blocked, no opt-in), the gallery asks for a
name, and the screenshots of docs/ui.md."""

import pytest
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def colours(page, selector):
    return page.locator(selector).first.evaluate(
        "(e) => { const s = getComputedStyle(e); return [s.backgroundColor, s.color]; }"
    )


def test_status_and_consent_badges_each_have_their_own_colour(login, admin_user, workspace):
    from cpaas.tenancy import Actor
    from journeys.services import journey_from_template
    from tests.consent.conftest import change, opt_in
    from tests.factories import ContactFactory

    actor = Actor.for_user(admin_user)
    journey_from_template(
        workspace=workspace, actor=actor, key="abandoned_cart", name="Cart rescue", publish=True
    )
    journey_from_template(workspace=workspace, actor=actor, key="abandoned_cart", name="Cart rescue (draft)")
    contact = ContactFactory(workspace=workspace, phone="+447911123456", email="ama@example.com")
    opt_in(contact)
    change(contact, "opted_out", channel="email", purpose="marketing")

    page = login(admin_user, "/journeys/")
    live, draft = colours(page, ".badge.status-live"), colours(page, ".badge.status-draft")
    page.goto(page.url.split("/journeys")[0] + f"/consent/contacts/{contact.pk}/")
    seen = {"live": live, "draft": draft}
    for cls in ("allowed", "deny", "no-optin"):
        expect(page.locator(f".badge.{cls}").first).to_be_visible()
        seen[cls] = colours(page, f".badge.{cls}")
    # blocked (a message the consent rules stopped) uses its own tone: drawn on this page too
    page.evaluate(
        "() => { const b = document.createElement('span'); b.className = 'badge blocked'; b.textContent = 'blocked';"
        " document.querySelector('main').appendChild(b); }"
    )
    seen["blocked"] = colours(page, ".badge.blocked")
    backgrounds = {k: v[0] for k, v in seen.items()}
    assert len(set(backgrounds.values())) == len(backgrounds), backgrounds
    docs_screenshot(page.locator("main"), "ui-badges-consent.png")


def test_use_this_template_asks_for_a_name(login, marketer):
    from journeys.models import Journey

    page = login(marketer, "/journeys/editor/")
    card = page.locator("form.tpl", has=page.locator("h3", has_text="Abandoned cart"))
    # the preview draws the template's nodes with their icons
    expect(card.locator("svg.tpl-preview rect")).to_have_count(6)
    expect(card.locator("svg.tpl-preview use").first).to_have_attribute(
        "href", "/static/vendor/lucide/sprite.svg#zap"
    )
    card.get_by_text("Use this template").click()
    name = card.get_by_label("Name of the new journey")
    expect(name).to_have_value("Abandoned cart")
    name.fill("Cart rescue for spring")
    docs_screenshot(page.locator(".gallery"), "ui-gallery.png")
    card.get_by_role("button", name="Create and open the editor").click()
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    assert list(Journey.objects.values_list("name", flat=True)) == ["Cart rescue for spring"]
