"""The canvas editor as a new user meets it: build the OTP onboarding journey from an empty
canvas with the mouse, see the badge of an unconnected exit, fix it, run the unpublished draft
for a test contact whose code arrives in the phone simulator beside the canvas, and publish."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def drop(page, node_type, x, y):
    """Drag a node type from the palette onto the canvas at (x, y) of the canvas."""
    page.locator(f'.pal-item[data-type="{node_type}"]').drag_to(
        page.locator("#canvas"), target_position={"x": x, "y": y}
    )


def node(page, nid):
    return page.locator(f'#canvas [model-id="{nid}"]')


def connect(page, source, exit_, target):
    """Press on the exit's port and release over the target node."""
    port = node(page, source).locator(f'[port="{exit_}"]').bounding_box()
    body = node(page, target).locator(".body").bounding_box()
    page.mouse.move(port["x"] + port["width"] / 2, port["y"] + port["height"] / 2)
    page.mouse.down()
    page.mouse.move(body["x"] + 40, body["y"] + body["height"] / 2, steps=8)
    page.mouse.up()


def panel_of(page, nid):
    """The configuration panel once it shows this node."""
    return page.locator(f'#panel:has(#config-meta[data-node="{nid}"])')


def saved(page):
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)


def graph(page):
    return page.evaluate("window.editor.state.graph")


def test_build_the_otp_onboarding_journey_with_the_mouse_publish_and_test_it(login, marketer, workspace):
    from contacts.models import Contact
    from cpaas.tenancy import Actor
    from journeys.services import journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="OTP onboarding")
    tester = Contact.objects.create(workspace=workspace, first_name="Tess", phone="+447700900555")
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()

    # given an empty canvas (the new journey's two starter nodes deleted)
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    expect(page.locator("#canvas [model-id]")).to_have_count(0)

    # when the marketer drags four node types from the palette
    drop(page, "trigger.event", 40, 60)
    drop(page, "otp.verify", 330, 60)
    drop(page, "message.send", 330, 330)
    drop(page, "exit", 40, 420)
    for nid in ("trigger_event_1", "otp_verify_1", "message_send_1", "exit_1"):
        expect(node(page, nid)).to_be_visible()

    # and connects exits to nodes with the mouse
    connect(page, "trigger_event_1", "next", "otp_verify_1")
    connect(page, "otp_verify_1", "verified", "message_send_1")
    connect(page, "otp_verify_1", "failed", "exit_1")
    connect(page, "message_send_1", "next", "exit_1")
    expect(page.locator("#canvas .joint-link")).to_have_count(4)

    # and fills the forms: the trigger's event, the welcome text
    node(page, "trigger_event_1").locator(".body").click()
    expect(panel_of(page, "trigger_event_1")).to_be_visible()
    page.get_by_label("Event name").fill("signup")
    page.get_by_label("Event name").press("Tab")
    node(page, "message_send_1").locator(".body").click()
    expect(panel_of(page, "message_send_1")).to_be_visible()
    text = panel_of(page, "message_send_1").locator("textarea[name=cfg-template-text]").first
    text.fill("Welcome {{contact.first_name}}, your account is ready.")
    expect(page.locator(".sms-count").first).to_contain_text("1 segment · GSM-7")
    page.get_by_label("Channel", exact=True).select_option("sms")  # a change: the form applies
    # the form's apply is asynchronous: wait for the graph to hold both edits, then for the save
    page.wait_for_function(
        """() => { const c = window.editor.state.graph.nodes.message_send_1.config;
                   return c.channel === "sms" && (c.template.en || "").startsWith("Welcome"); }""",
        timeout=15000,
    )
    saved(page)
    g = graph(page)
    assert g["start"] == "trigger_event_1"
    assert g["nodes"]["otp_verify_1"]["exits"] == {"verified": "message_send_1", "failed": "exit_1"}
    assert g["nodes"]["message_send_1"]["config"]["template"]["en"].startswith(
        "Welcome {{contact.first_name}}"
    )
    assert g["nodes"]["message_send_1"]["config"]["channel"] == "sms"

    # then the unconnected exits show as badges and problems, and Publish is disabled
    badge = node(page, "otp_verify_1").locator('[joint-selector="badgeText"]')
    expect(badge).to_have_text("1")
    expect(page.locator("#problems")).to_contain_text(
        "'Verify by SMS then WhatsApp': connect the 'expired' exit or end it."
    )
    expect(page.locator("#publish")).to_be_disabled()
    docs_screenshot(page.locator("#canvas"), "editor-canvas.png")
    docs_screenshot(page, "editor-problems.png")

    # when they click the problem, the node is selected and they end the exit in the panel
    page.locator("#problems button", has_text="expired").click()
    panel_of(page, "otp_verify_1").locator("select[data-exit='expired']").select_option("__end__")
    node(page, "message_send_1").locator(".body").click()
    panel_of(page, "message_send_1").locator("select[data-exit='failed']").select_option("__end__")
    saved(page)
    expect(page.locator("#problem-count")).to_have_text("0")

    # and run the draft (never published) for a test contact: the code arrives in the
    # simulator beside the canvas
    journey.refresh_from_db()
    assert journey.status == "draft" and journey.live_version is None
    page.get_by_role("button", name="Test run").click()
    page.get_by_label("Test contact").fill(tester.first_name)
    page.locator("#test-results").get_by_role("button", name=tester.display_name).click()
    page.get_by_role("button", name="Start the test contact").click()
    phone = page.locator("#test-phone")
    expect(phone.locator(".bubble").filter(has_text=re.compile(r"\d{6}")).first).to_be_visible(timeout=20000)
    # and the path the test contact took lights up: it waits at the code check
    expect(node(page, "otp_verify_1").locator(".body")).to_have_attribute("fill", "#fff1b8", timeout=10000)
    expect(node(page, "trigger_event_1").locator(".body")).to_have_attribute("fill", "#fffbe6")
    docs_screenshot(page, "editor-test-run.png")
    journey.refresh_from_db()
    assert journey.status == "draft" and not journey.versions.filter(is_test=False, number__isnull=False)

    # and publish with a note
    page.locator("#publish").click()
    page.get_by_label("Note").fill("First version")
    page.get_by_role("button", name="Publish now").click()
    expect(page.locator("#ed-status")).to_have_text("Live")
    journey.refresh_from_db()
    assert journey.status == "live" and journey.live_version.note == "First version"
    assert journey.live_version.number == 1
