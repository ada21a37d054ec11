"""Accessibility: axe-core (vendored in static/vendor/axe-core/, MPL-2.0) runs on every main
page, as an admin who sees them all, with some data on them; no serious or critical violation
is allowed. The same pass takes the screenshots of docs/ui.md."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)

AXE = "/static/vendor/axe-core/axe.min.js"


def axe_violations(page, server) -> list[dict]:
    # the script is loaded from this site, as the Content-Security-Policy allows ('self')
    page.add_script_tag(url=server.url + AXE)
    result = page.evaluate(
        """async () => { const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ') + ' :: ' + n.failureSummary) })); }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.fixture
def data(workspace, admin_user):
    from contacts.models import Contact, Segment
    from cpaas.tenancy import Actor
    from journeys.services import journey_from_template

    contact = Contact.objects.create(
        workspace=workspace, first_name="Ana", last_name="Silva", phone="+447700900123"
    )
    Segment.objects.create(workspace=workspace, name="VIPs", definition={"all": []})
    journey = journey_from_template(
        workspace=workspace, actor=Actor.for_user(admin_user), key="abandoned_cart", name="Cart rescue"
    )
    return {"contact": contact, "journey": journey}


PAGES = [
    ("/", "home"),
    ("/journeys/", "journeys"),
    ("/journeys/editor/", "journey-gallery"),
    ("/journeys/{journey}/", "journey"),
    ("/journeys/editor/{journey}/", "editor"),
    ("/contacts/", "contacts"),
    ("/contacts/{contact}/", "contact"),
    ("/contacts/segments/", "segments"),
    ("/contacts/attributes/", "attributes"),
    ("/consent/", "consent"),
    ("/consent/policies/", "policies"),
    ("/consent/events/", "consent-events"),
    ("/messages/", "messages"),
    ("/channels/", "channels"),
    ("/simulator/", "simulator"),
    ("/verify/", "verify"),
    ("/inbox/", "inbox"),
    ("/experiments/", "experiments"),
    ("/settings/", "settings"),
    ("/settings/users/", "users"),
    ("/settings/tokens/", "tokens"),
    ("/settings/audit/", "audit"),
    ("/contacts/new/", "contact-new"),
    ("/contacts/segments/new/", "segment-new"),
    ("/contacts/imports/", "imports"),
    ("/consent/suppressions/", "suppressions"),
    ("/consent/contacts/{contact}/", "consent-contact"),
    ("/channels/new/", "channel-new"),
    ("/inbox/supervisor/", "supervisor"),
    ("/inbox/settings/", "inbox-settings"),
    ("/analytics/journeys/{journey}/", "journey-analytics"),
    ("/analytics/kpis/promise-to-pay/", "kpi-promise-to-pay"),
    ("/analytics/kpis/call-warmup/", "kpi-call-warmup"),
    ("/analytics/kpis/otp/", "kpi-otp"),
    ("/analytics/settings/", "analytics-settings"),
]


DOCS = {"journeys", "policies", "messages"}  # shown in docs/ui.md


def test_every_main_page_has_no_serious_accessibility_violation(login, server, admin_user, data):
    page = login(admin_user, "/")
    found = {}
    for path, name in PAGES:
        url = path.format(journey=data["journey"].pk, contact=data["contact"].pk)
        response = page.goto(server.url + url)
        assert response.status == 200, (url, response.status)
        page.wait_for_load_state("networkidle")
        if name == "editor":
            expect(page.locator("body[data-editor-ready]")).to_be_attached()
        violations = axe_violations(page, server)
        if violations:
            found[url] = violations
        if name in DOCS:
            docs_screenshot(page, f"ui-{name}.png")
    assert not found, json.dumps(found, indent=1)[:6000]


def test_the_checker_finds_a_real_violation(login, server, admin_user, data):
    """The check can fail: an image button without a name is reported as critical."""
    page = login(admin_user, "/journeys/")
    page.evaluate("document.querySelector('main').appendChild(document.createElement('button'))")
    assert any(v["id"] == "button-name" for v in axe_violations(page, server))


def test_the_focus_ring_is_visible_on_the_dark_navigation(login, admin_user, data):
    page = login(admin_user, "/journeys/")
    link = page.locator(".mainnav a", has_text="Contacts")
    link.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    style = link.evaluate(
        "(a) => { const s = getComputedStyle(a); return [s.outlineStyle, s.outlineColor, s.outlineWidth]; }"
    )
    assert style[0] == "solid" and style[2] == "2px"
    assert style[1] == "rgb(165, 180, 252)"  # --focus-ring, 8:1 on the navigation's #151a2d
