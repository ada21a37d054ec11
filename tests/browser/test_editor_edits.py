"""Editing on the canvas: undo/redo round trip, copy and paste of a group of nodes into another
journey, a conflict between two browser contexts, and the outline view without the mouse."""

import pytest
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def open_editor(login, user, journey):
    page = login(user, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    return page


def saved(page):
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)


def node_ids(page):
    return sorted(page.evaluate("Object.keys(window.editor.state.graph.nodes)"))


def make(workspace, user, name):
    from cpaas.tenancy import Actor
    from journeys.services import journey_create

    return journey_create(workspace=workspace, actor=Actor.for_user(user), name=name)


def test_undo_redo_round_trip_and_copy_paste_into_another_journey(login, marketer, workspace):
    from journeys.services import draft_for

    first, second = make(workspace, marketer, "First"), make(workspace, marketer, "Second")
    page = open_editor(login, marketer, first)
    before = node_ids(page)
    # a node added from the palette, then moved with the mouse
    page.locator('.pal-item[data-type="wait.delay"]').click()
    expect(page.locator('#canvas [model-id="wait_delay_1"]')).to_be_visible()
    box = page.locator('#canvas [model-id="wait_delay_1"] .body').bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 50)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 150, steps=5)
    page.mouse.up()
    moved = page.evaluate("window.editor.state.graph.nodes.wait_delay_1.position")
    # undo twice: the move, then the add
    page.keyboard.press("Control+z")
    assert page.evaluate("window.editor.state.graph.nodes.wait_delay_1.position") != moved
    page.keyboard.press("Control+z")
    assert node_ids(page) == before
    expect(page.locator('#canvas [model-id="wait_delay_1"]')).to_have_count(0)
    # redo twice: back where it was moved to
    page.keyboard.press("Control+y")
    page.keyboard.press("Control+y")
    assert page.evaluate("window.editor.state.graph.nodes.wait_delay_1.position") == moved
    saved(page)
    assert "wait_delay_1" in draft_for(first).graph["nodes"]

    # copy a group: the trigger and the exit it leads to (shift-click adds to the selection)
    page.locator('#canvas [model-id="trigger"] .body').click()
    page.locator('#canvas [model-id="end"] .body').click(modifiers=["Shift"])
    expect(page.locator("#panel")).to_contain_text("2 nodes selected")
    page.keyboard.press("Control+c")

    # and paste it into the second journey (a new page: the clipboard outlives the page)
    other = open_editor(login, marketer, second)
    other.keyboard.press("Control+a")
    other.keyboard.press("Delete")
    other.keyboard.press("Control+v")
    expect(other.locator("#canvas .joint-element")).to_have_count(2)
    expect(other.locator("#canvas .joint-link")).to_have_count(1)
    saved(other)
    graph = draft_for(second).graph
    assert sorted(graph["nodes"]) == ["exit_1", "trigger_manual_1"]
    assert graph["nodes"]["trigger_manual_1"]["exits"] == {"next": "exit_1"}
    assert graph["start"] == "trigger_manual_1"


def test_conflict_between_two_browser_contexts(server, browser, login, marketer, admin_user, workspace):
    from django.test import Client

    from journeys.services import draft_for

    journey = make(workspace, marketer, "Shared")
    mine = open_editor(login, marketer, journey)
    # a second person, in their own browser context
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    client = Client()
    client.force_login(admin_user)
    ctx.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}])
    theirs = ctx.new_page()
    theirs.goto(f"{server.url}/journeys/editor/{journey.pk}/")
    expect(theirs.locator("body[data-editor-ready]")).to_be_attached()
    # they add a node and it saves
    theirs.locator('.pal-item[data-type="goal"]').click()
    saved(theirs)
    # I change something on my stale copy: a conflict, with a choice, and nothing overwritten
    mine.locator('.pal-item[data-type="wait.delay"]').click()
    dialog = mine.locator("#conflict-dialog")
    expect(dialog).to_be_visible(timeout=10000)
    expect(dialog).to_contain_text(admin_user.username)
    expect(mine.locator("#save-state")).to_contain_text("Conflict")
    docs_screenshot(mine, "editor-conflict.png")
    assert "goal_1" in draft_for(journey).graph["nodes"]
    assert "wait_delay_1" not in draft_for(journey).graph["nodes"]
    # I load their version: my canvas shows their node, and mine is gone
    mine.get_by_role("button", name="Load their version").click()
    expect(mine.locator('#canvas [model-id="goal_1"]')).to_be_visible()
    expect(mine.locator('#canvas [model-id="wait_delay_1"]')).to_have_count(0)
    # and the next edit saves on their version
    mine.locator('.pal-item[data-type="wait.event"]').click()
    saved(mine)
    assert {"goal_1", "wait_event_1"} <= set(draft_for(journey).graph["nodes"])
    ctx.close()


def test_outline_view_builds_a_small_journey_without_the_mouse(login, marketer, workspace):
    from journeys.services import draft_for

    journey = make(workspace, marketer, "Keyboard")
    page = open_editor(login, marketer, journey)
    page.keyboard.press("o")
    outline = page.locator("#outline")
    expect(outline).to_be_visible()
    expect(outline.get_by_role("heading", name="Outline")).to_be_focused()
    # add a message node with the keyboard
    outline.get_by_label("Add a node").select_option("message.send")
    outline.get_by_role("button", name="Add", exact=True).press("Enter")
    expect(outline.get_by_role("button", name="Configure Send a message")).to_be_focused()
    # connect the trigger's exit to it, and end the message's exits
    outline.get_by_label("Exit next of trigger goes to").select_option("message_send_1")
    outline.get_by_label("Exit next of message_send_1 goes to").select_option("end")
    outline.get_by_label("Exit failed of message_send_1 goes to").select_option("__end__")
    # configure it from the keyboard
    outline.get_by_role("button", name="Configure Send a message").press("Enter")
    text = page.locator(
        '#panel:has(#config-meta[data-node="message_send_1"]) textarea[name=cfg-template-text]'
    )
    text.first.fill("Thanks for joining!")
    text.first.press("Tab")
    saved(page)
    expect(page.locator("#problem-count")).to_have_text("0")
    docs_screenshot(page, "editor-outline.png")
    graph = draft_for(journey).graph
    assert graph["nodes"]["trigger"]["exits"] == {"next": "message_send_1"}
    # offline: the state says so and retries; back online, it saves
    page.context.set_offline(True)
    outline.get_by_label("Add a node").select_option("goal")
    outline.get_by_role("button", name="Add", exact=True).press("Enter")
    expect(page.locator("#save-state")).to_contain_text("Offline — retrying")
    page.context.set_offline(False)
    saved(page)
    assert "goal_1" in draft_for(journey).graph["nodes"]
    assert graph["nodes"]["message_send_1"]["exits"] == {"next": "end", "failed": None}
    assert graph["nodes"]["message_send_1"]["config"]["template"] == {"en": "Thanks for joining!"}
