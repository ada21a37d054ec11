"""The Content-Security-Policy is served in tests too, so a page that needs inline script, eval
or an unlisted source fails here: every main page, opened and used a little, reports no
violation (the `securitypolicyviolation` event and Chromium's console both listen)."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cpaas.services import invitation_create
from cpaas.tenancy import Actor
from journeys.services import journey_from_template
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));
"""


def _watch(page):
    console = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text) if "Content Security Policy" in m.text or "Refused to" in m.text else None
        ),
    )
    return console


def _violations(page, console) -> list[str]:
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__csp || []") + console


def _experiment_with_results(workspace, user):
    """A running experiment with results, so its page draws its charts (Chart.js)."""
    from experiments import results
    from experiments.models import Experiment
    from journeys.services import journey_create, journey_publish

    variants = [{"exit": "a", "weight": 50, "control": True}, {"exit": "b", "weight": 50}]
    graph = {"schema": 1, "start": "trigger", "nodes": {
        "trigger": {"type": "trigger.manual", "config": {}, "exits": {"next": "ab"}},
        "ab": {"type": "split.ab", "config": {"variants": variants}, "exits": {"a": None, "b": None}}}}  # fmt: skip
    journey = journey_create(workspace=workspace, actor=Actor.for_user(user), name="A/B", graph=graph)
    journey_publish(journey=journey, actor=Actor.for_user(user))
    experiment = Experiment.objects.get(journey_id=journey.pk)
    results.refresh(experiment)
    return experiment


def test_main_pages_report_no_csp_violation(login, context, workspace, admin_user):
    context.add_init_script(LISTEN)
    contact = ContactFactory(workspace=workspace, first_name="Ann", phone="+447911123456")
    journey = journey_from_template(
        workspace=workspace, actor=Actor.for_user(admin_user), key="abandoned_cart", publish=True
    )
    paths = [
        reverse("contact_list"),
        reverse("contact_detail", args=[contact.pk]),
        reverse("segment_list"),
        reverse("segment_create"),
        reverse("import_list"),
        reverse("import_create"),
        reverse("consent_home"),
        reverse("consent_contact", args=[contact.pk]),
        reverse("consent_policies"),
        reverse("consent_events"),
        reverse("message_list"),
        reverse("channel_list"),
        reverse("verification_list"),
        reverse("simulator") + f"?contact={contact.pk}",
        reverse("journey_list"),
        reverse("journey_detail", args=[journey.pk]),
        reverse("editor", args=[journey.pk]),
        reverse("user_list"),
        reverse("token_list"),
        reverse("audit_list"),
        reverse("workspace_edit"),
        reverse("api_docs"),
        reverse("experiment_list"),
        reverse("home"),
        reverse("analytics_health"),
        reverse("analytics_journey", args=[journey.pk]),
        reverse("analytics_kpi", args=["promise-to-pay"]),
        reverse("analytics_kpi", args=["lifecycle"]),
        reverse("analytics_settings"),
        reverse("experiment_detail", args=[_experiment_with_results(workspace, admin_user).pk]),
    ]
    page = login(admin_user, reverse("contact_list"))
    console = _watch(page)
    found = {}
    for path in paths:
        page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + path)
        if path == reverse("contact_list"):  # an htmx search request
            page.get_by_role("searchbox").first.fill("Ann")
        if path.startswith(reverse("editor", args=[journey.pk])):
            page.wait_for_selector("#canvas [model-id]")
            page.locator('.pal-item[data-type="message.send"]').click()  # its form arrives through htmx
            page.wait_for_selector("#node-form")
        problems = _violations(page, console)
        if problems:
            found[path] = list(problems)
        console.clear()
    assert found == {}


def test_public_pages_report_no_csp_violation_and_send_the_header(
    server, page, workspace, admin_user, settings
):
    page.context.add_init_script(LISTEN)
    console = _watch(page)
    response = page.goto(server.url + "/login/")
    policy = response.headers["content-security-policy"]
    assert (
        "script-src 'self' 'nonce-" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    assert _violations(page, console) == []
    # the locked-out log-in page
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        page.get_by_label("Username").fill("someone")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Log in").click()
    assert "Too many failed log-ins" in page.content()
    assert _violations(page, console) == []
    # an invitation link, as someone without an account opens it
    _, token = invitation_create(
        workspace=workspace, actor=Actor.for_user(admin_user), email="new@example.com", role="agent",
        now=timezone.now(),
    )  # fmt: skip
    page.goto(server.url + reverse("invitation_accept", args=[token]))
    assert "Create your account" in page.content()
    assert _violations(page, console) == []


def test_the_handlers_that_replaced_inline_ones_still_work(login, context, workspace, admin_user):
    from playwright.sync_api import expect

    from contacts.models import Contact

    context.add_init_script(LISTEN)
    contact = ContactFactory(workspace=workspace, first_name="Ann", phone="+447911123456")
    # data-reset-on-success: the simulator's reply box empties once the reply is sent (htmx)
    page = login(admin_user, reverse("simulator") + f"?contact={contact.pk}&kind=sms")
    console = _watch(page)
    page.locator("#reply-sms").fill("Hello from Ann")
    page.locator("#phone-sms").get_by_role("button", name="Send").click()
    expect(page.locator("#bubbles-sms .from-contact")).to_contain_text("Hello from Ann")
    expect(page.locator("#reply-sms")).to_have_value("")
    # data-autosubmit: choosing a status filters the journey list at once
    page.goto(page.url.split("/simulator")[0] + reverse("journey_list"))
    page.get_by_label("Status").select_option("paused")
    expect(page).to_have_url(re.compile(r"status=paused"))
    # data-confirm: dismissing the question keeps the contact, accepting deletes it
    page.goto(page.url.split("/journeys")[0] + reverse("contact_detail", args=[contact.pk]))
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_load_state("networkidle")
    assert Contact.objects.filter(pk=contact.pk).exists()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert _violations(page, console) == []
