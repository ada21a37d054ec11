"""Problems in words (issue 16 item 10) and default titles from the config (item 13): every
problem names its node by the title the canvas shows and its field by the form's label, in one
sentence made on the server (journeys/validation.py) that the editor, the journey page and the
API show alike."""

import pytest

from journeys.nodes import REGISTRY
from journeys.nodes.base import duration_words
from journeys.validation import node_title, validate_graph


def n(type_, config=None, label=None, **exits):
    node = {"type": type_, "config": config or {}, "exits": exits}
    if label:
        node["label"] = label
    return node


def graph(**nodes):
    return {"schema": 1, "start": "t", "nodes": {"t": n("trigger.manual", next="h1"), **nodes}}


@pytest.mark.django_db
def test_an_open_exit_is_named_by_the_nodes_label():
    g = graph(
        h1=n("message.send", {"channel": "sms", "template": {"en": "Hi"}}, label="Reminder SMS", failed=None)
    )
    [p] = validate_graph(g)
    assert p["text"] == "'Reminder SMS': connect the 'next' exit or end it."
    assert "exits." not in p["text"]


@pytest.mark.django_db
def test_two_hand_offs_are_told_apart_by_their_queue():
    g = graph(
        h1=n("inbox.handoff", {"queue": "support"}, next="h2"),
        h2=n("inbox.handoff", {"queue": "collections"}),
    )
    [p] = validate_graph(g)
    assert p["text"] == "'Hand off to collections': connect the 'next' exit or end it."
    assert node_title(g["nodes"]["h1"]) == "Hand off to support"


@pytest.mark.django_db
def test_a_config_problem_names_the_field_by_its_form_label():
    g = graph(h1=n("inbox.handoff", {"priority": "normal"}, next=None))
    texts = [p["text"] for p in validate_graph(g)]
    assert "'Hand off to an agent': Queue: required." in texts


@pytest.mark.django_db
def test_a_loop_names_its_nodes_by_title():
    g = graph(
        h1=n("message.send", {"channel": "sms", "template": {"en": "Hello again"}}, next="h2", failed=None),
        h2=n("inbox.handoff", {"queue": "support"}, next="h1"),
    )
    [p] = [p for p in validate_graph(g) if "Loop" in p["message"]]
    assert "'SMS: Hello again' (next) → 'Hand off to support' (next)" in p["text"]
    assert "h1 (next)" in p["message"]  # the machine-readable message keeps the ids


def test_every_node_type_has_a_title_for_its_defaults_and_for_an_empty_config():
    for type_, spec in REGISTRY.items():
        assert spec.title(dict(spec.defaults)), type_
        assert spec.title({}), type_


def test_default_titles_say_what_the_node_does():
    cases = {
        ("wait.delay", '{"seconds": 604800}'): "Wait 7 days",
        ("wait.delay", '{"seconds": 9000}'): "Wait 2 h 30 min",
        ("trigger.event", '{"event": "signup"}'): "When signup",
        ("message.send", '{"channel": "whatsapp", "template": {"en": "Hi {{contact.first_name}}, your order shipped"}}'):
            "WhatsApp: Hi, your order shipped",
        ("webhook.call", '{"url": "https://api.example.com/x"}'): "Call api.example.com",
    }  # fmt: skip
    import json

    for (type_, config), want in cases.items():
        assert REGISTRY[type_].title(json.loads(config)) == want
    assert duration_words(45) == "45 s"
