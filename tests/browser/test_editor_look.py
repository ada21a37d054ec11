"""The canvas as issue 16 asked it to look and behave: SVG icons (no emoji) in the palette and on
the nodes, problems in words naming the node by its title, the ended-exit marker explained,
titles from the config that fit the node, counts never clipped, a dropped node that lands free
of overlaps, links routed round the nodes, and an overview that covers nothing."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)

EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]")


def n(type_, x, y, config=None, label=None, **exits):
    node = {"type": type_, "config": config or {}, "exits": exits, "position": {"x": x, "y": y}}
    if label:
        node["label"] = label
    return node


def open_editor(login, user, workspace, graph, name="Look"):
    from cpaas.tenancy import Actor
    from journeys.services import journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(user), name=name, graph=graph)
    page = login(user, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    return journey, page


def bbox(page, nid):
    return page.evaluate(f"window.editor.canvas.graph.getCell('{nid}').getBBox().toJSON()")


def overlaps(a, b):
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def handoffs():
    return {
        "schema": 1,
        "start": "t",
        "nodes": {
            "t": n("trigger.manual", 40, 60, next="h1"),
            "h1": n("inbox.handoff", 340, 60, {"queue": "support"}, next="h2"),
            "h2": n("inbox.handoff", 700, 60, {"queue": "collections"}, next=None),
            "long": n("exit", 340, 320, {}, label="A title far too long to fit on the node at all, truly"),
        },
    }


def test_icons_are_svg_from_the_vendored_sprite_never_emoji(login, marketer, workspace):
    _, page = open_editor(login, marketer, workspace, handoffs())
    palette = page.locator(".ed-palette")
    # no emoji anywhere in the palette's text, and every item shows an SVG icon
    assert not EMOJI.search(palette.inner_text())
    items = palette.locator(".pal-item")
    assert items.count() >= 15
    assert palette.locator(".pal-item svg.icon use").count() == items.count()
    # each icon names a symbol that exists in the sprite the page loads
    hrefs = page.evaluate(
        "[...document.querySelectorAll('.pal-item use, #canvas use')].map((u) => u.getAttribute('href'))"
    )
    sprite_url = hrefs[0].split("#")[0]
    assert sprite_url.endswith("/static/vendor/lucide/sprite.svg")
    sprite = page.request.get(page.url.split("/journeys")[0] + sprite_url).text()
    symbols = set(re.findall(r'<symbol id="([^"]+)"', sprite))
    names = {h.split("#")[1] for h in hrefs}
    assert names <= symbols, names - symbols
    # the node headers draw the same icons, one per node type
    assert page.locator('#canvas [model-id="h1"] use').get_attribute("href").endswith("#headset")
    # and the icon is really painted (the sprite loaded): it has a size on screen
    box = page.locator('#canvas [model-id="h1"] use').bounding_box()
    assert box and box["width"] > 10


def test_titles_come_from_the_config_and_fit_the_node(login, marketer, workspace):
    _, page = open_editor(login, marketer, workspace, handoffs())
    title = page.locator('#canvas [model-id="h1"] .node-title')
    expect(title).to_have_text("Hand off to support")
    expect(page.locator('#canvas [model-id="h2"] .node-title')).to_have_text("Hand off to collections")
    # a long label is cut with an ellipsis inside the node, and the whole text is its tooltip
    long_title = page.locator('#canvas [model-id="long"] .node-title')
    expect(long_title).to_contain_text("…")
    body = page.locator('#canvas [model-id="long"] .body').bounding_box()
    tb = long_title.bounding_box()
    assert tb["x"] + tb["width"] <= body["x"] + body["width"]
    assert "A title far too long" in page.locator('#canvas [model-id="long"] .body title').text_content()
    # the summary (two lines at most) stays inside the node too
    for nid in ("h1", "h2"):
        body = page.locator(f'#canvas [model-id="{nid}"] .body').bounding_box()
        sb = page.locator(f'#canvas [model-id="{nid}"] .node-summary').bounding_box()
        if sb:
            assert sb["x"] + sb["width"] <= body["x"] + body["width"] + 0.5
            assert sb["y"] + sb["height"] <= body["y"] + body["height"] + 0.5


def test_problems_name_the_node_by_its_title_and_the_end_marker_is_explained(login, marketer, workspace):
    g = handoffs()
    del g["nodes"]["h1"]["exits"]["next"]
    g["nodes"]["h2"]["exits"]["next"] = None
    _, page = open_editor(login, marketer, workspace, g)
    problems = page.locator("#problems")
    expect(problems).to_contain_text("'Hand off to support': connect the 'next' exit or end it.")
    assert "exits.next" not in problems.inner_text()
    # the ended exit: a grey square, with a tooltip that says it ends the journey
    port = page.locator('#canvas [model-id="h2"] [port="next"]')
    assert "ends the journey here" in port.locator("title").text_content()
    assert port.get_attribute("rx") == "2"
    assert page.locator('#canvas [model-id="h1"] [port="next"]').get_attribute("rx") == "7"
    # and the legend under the canvas explains the three kinds of dot
    legend = page.locator("#exit-legend")
    expect(legend).to_contain_text("exit ends the journey here")
    expect(legend).to_contain_text("not connected yet")
    docs_screenshot(page, "ui-editor.png")


def test_count_labels_are_sized_to_their_text(login, marketer, workspace):
    _, page = open_editor(login, marketer, workspace, handoffs())
    page.evaluate(
        """() => { const e = window.editor; e.state.counts = {h1: {entered: 1234, waiting: 5, 'exit:next': 1229}};
        e.canvas.sync(e.state); }"""
    )
    label = page.locator('#canvas [model-id="h1"] .joint-port-label text').first
    expect(label).to_have_text("next (1229 · 100%)")
    # the tag behind it is wider than the text, so nothing is cut
    tag = page.locator('#canvas [model-id="h1"] .joint-port-label rect').first.bounding_box()
    text = label.bounding_box()
    assert tag["x"] <= text["x"] and tag["x"] + tag["width"] >= text["x"] + text["width"]
    # and it does not run into the next node
    nxt = page.locator('#canvas [model-id="h2"] .body').bounding_box()
    assert text["x"] + text["width"] < nxt["x"]


def test_a_node_dropped_onto_another_lands_free_of_overlaps(login, marketer, workspace):
    _, page = open_editor(login, marketer, workspace, handoffs())
    page.evaluate("window.editor.canvas.paper.scale(1); window.editor.canvas.paper.translate(0, 0)")
    target = page.locator('#canvas [model-id="h1"] .body').bounding_box()
    canvas = page.locator("#canvas").bounding_box()
    # when a wait is dropped right on top of the first hand-off, twice
    for _ in range(2):
        page.locator('.pal-item[data-type="wait.delay"]').drag_to(
            page.locator("#canvas"),
            target_position={"x": target["x"] - canvas["x"] + 30, "y": target["y"] - canvas["y"] + 25},
        )
    page.wait_for_function("Object.keys(window.editor.state.graph.nodes).length === 6")
    # then every node is clear of every other, and the new ones are near the drop point
    ids = page.evaluate("Object.keys(window.editor.state.graph.nodes)")
    boxes = {i: bbox(page, i) for i in ids}
    for a in ids:
        for b in ids:
            if a < b:
                assert not overlaps(boxes[a], boxes[b]), (a, b, boxes[a], boxes[b])
    for new in ("wait_delay_1", "wait_delay_2"):
        assert abs(boxes[new]["x"] - boxes["h1"]["x"]) + abs(boxes[new]["y"] - boxes["h1"]["y"]) < 600


def test_links_go_round_a_node_in_their_way(login, marketer, workspace):
    # a -> c with b sitting on the straight line between them
    g = {
        "schema": 1,
        "start": "a",
        "nodes": {
            "a": n("trigger.manual", 40, 100, next="c"),
            "b": n("wait.delay", 360, 100, {"seconds": 60}, next=None),
            "c": n("exit", 700, 100),
        },
    }
    _, page = open_editor(login, marketer, workspace, g)
    b = bbox(page, "b")
    points = page.evaluate(
        """() => { const l = window.editor.canvas.graph.getLinks()[0];
        const v = l.findView(window.editor.canvas.paper);
        const path = v.getConnection(); const len = path.length(); const out = [];
        for (let i = 0; i <= 200; i += 1) { const p = path.pointAtLength(len * i / 200); out.push([p.x, p.y]); }
        return out; }"""
    )
    inside = [
        p for p in points if b["x"] < p[0] < b["x"] + b["width"] and b["y"] < p[1] < b["y"] + b["height"]
    ]
    assert not inside, inside[:3]
    # the link reaches c (it was not simply dropped)
    assert abs(points[-1][0] - bbox(page, "c")["x"]) < 20


def test_the_overview_sits_beside_the_canvas_and_frames_the_visible_area(login, marketer, workspace):
    _, page = open_editor(login, marketer, workspace, handoffs())
    mini = page.locator("#minimap canvas")
    expect(mini).to_be_visible()
    assert not overlaps(mini.bounding_box(), page.locator("#canvas").bounding_box())
    # the visible area is framed: the map has the brand-coloured frame's pixels
    framed = page.evaluate(
        """() => { const c = document.querySelector('#minimap canvas'); const d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 79 && d[i + 1] === 70 && d[i + 2] === 229) n += 1;
        return n; }"""
    )
    assert framed > 50
    # it folds away
    page.locator("#overview summary").click()
    expect(mini).to_be_hidden()


def test_the_configuration_panel_fits_the_side_column(login, marketer, workspace):
    g = handoffs()
    g["nodes"]["m"] = n("message.send", 40, 320, {"channel": "sms", "template": {"en": "Hi"}})
    _, page = open_editor(login, marketer, workspace, g)
    page.locator('#canvas [model-id="m"] .body').click()
    expect(page.locator('#config-meta[data-node="m"]')).to_be_attached()
    # nothing in the form is wider than the column (a fieldset takes its widest content's width)
    widths = page.evaluate(
        "() => { const s = document.querySelector('.ed-side'); return [s.scrollWidth, s.clientWidth]; }"
    )
    assert widths[0] <= widths[1], widths
