"""Canvas gestures a marketer relies on: reconnecting a link by dragging its arrowhead to
another node, and the warning when leaving with unsaved changes."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def graph():
    def n(type_, x, y, config=None, **exits):
        return {"type": type_, "config": config or {}, "exits": exits, "position": {"x": x, "y": y}}

    return {
        "schema": 1,
        "start": "t",
        "nodes": {
            "t": n("trigger.manual", 40, 60, next="w"),
            "w": n("wait.delay", 340, 60, {"seconds": 60}, next="a"),
            "a": n("exit", 700, 60),
            "b": n("exit", 700, 320),
        },
    }


def open_editor(login, marketer, workspace, name):
    from cpaas.tenancy import Actor
    from journeys.services import journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name=name, graph=graph())
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    return journey, page


def test_drag_a_links_arrowhead_to_another_node_reconnects_the_exit(login, marketer, workspace):
    from journeys.services import draft_for

    journey, page = open_editor(login, marketer, workspace, "Reconnect")
    link_id = page.evaluate("window.editor.canvas.graph.getLinks().find((l) => l.source().id === 'w').id")
    link = page.locator(f'#canvas [model-id="{link_id}"]')
    # hovering the link shows its tools: the remove button and the target arrowhead
    box = link.locator("path").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    arrowhead = page.locator("#canvas .target-arrowhead")
    expect(arrowhead).to_be_visible()
    head = arrowhead.bounding_box()
    target = page.locator('#canvas [model-id="b"] .body').bounding_box()
    # when the arrowhead is dragged onto node b
    page.mouse.move(head["x"] + head["width"] / 2, head["y"] + head["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + 40, target["y"] + target["height"] / 2, steps=10)
    page.mouse.up()
    # then the exit points at b on the canvas, in the graph and in the saved draft
    page.wait_for_function("window.editor.state.graph.nodes.w.exits.next === 'b'", timeout=5000)
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=10000)
    assert draft_for(journey).graph["nodes"]["w"]["exits"]["next"] == "b"
    assert page.evaluate(
        "window.editor.canvas.graph.getLinks().filter((l) => l.source().id === 'w').map((l) => l.target().id)"
    ) == ["b"]
    # and undo puts it back on a
    page.locator("#canvas").focus()
    page.keyboard.press("Control+z")
    assert page.evaluate("window.editor.state.graph.nodes.w.exits.next") == "a"


def test_leaving_with_unsaved_changes_asks_first(login, marketer, workspace):
    journey, page = open_editor(login, marketer, workspace, "Unsaved")
    dialogs = []

    def on_dialog(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", on_dialog)
    # given a save that cannot reach the server
    page.route("**/save/", lambda route: route.abort())
    page.locator('.pal-item[data-type="wait.delay"]').click()
    expect(page.locator("#save-state")).to_contain_text("Offline", timeout=10000)
    # when the marketer follows the link back to the journey's page
    page.locator(".ed-back").click()
    # then the browser asks first, and staying keeps the editor and the change
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith(f"/journeys/editor/{journey.pk}/")
    assert "wait_delay_1" in page.evaluate("Object.keys(window.editor.state.graph.nodes)")

    # once the change is saved, leaving does not ask
    page.unroute("**/save/")
    expect(page.locator("#save-state")).to_have_text("Saved", timeout=15000)
    page.locator(".ed-back").click()
    page.wait_for_url(f"**/journeys/{journey.pk}/")
    assert dialogs == ["beforeunload"]
