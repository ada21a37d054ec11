"""The graph format's fast shape check agrees with GRAPH_SCHEMA (jsonschema runs whenever the
fast check has any doubt), and journeys of up to 2,000 nodes are publishable."""

import copy

import pytest

from journeys.validation import MAX_NODES, _graph_shape_ok, _graph_validator, validate_graph
from tests.journeys.conftest import linear


def big(n):
    g = linear(("trigger.manual", {}), *[("wait.delay", {"seconds": 60})] * (n - 2))
    for i, node in enumerate(g["nodes"].values()):
        node["position"] = {"x": 40 + (i // 20) * 320, "y": 40.5 + (i % 20) * 130}
    return g


def mutations():
    def m(f):
        g = big(4)
        f(g)
        return g

    n1 = lambda g: g["nodes"]["n1"]  # noqa: E731
    yield "valid", big(4)
    yield "labelled", m(lambda g: n1(g).__setitem__("label", "x" * 80))
    yield "label too long", m(lambda g: n1(g).__setitem__("label", "x" * 81))
    yield "label not text", m(lambda g: n1(g).__setitem__("label", 3))
    yield "schema 2", m(lambda g: g.__setitem__("schema", 2))
    yield "schema true", m(lambda g: g.__setitem__("schema", True))
    yield "schema 1.0", m(lambda g: g.__setitem__("schema", 1.0))
    yield "no start", m(lambda g: g.pop("start"))
    yield "bad start", m(lambda g: g.__setitem__("start", "a b"))
    yield "start newline", m(lambda g: g.__setitem__("start", "trigger\n"))
    yield "extra key", m(lambda g: g.__setitem__("x", 1))
    yield "meta", m(lambda g: g.__setitem__("meta", {"a": 1}))
    yield "meta list", m(lambda g: g.__setitem__("meta", []))
    yield "nodes empty", m(lambda g: g.__setitem__("nodes", {}))
    yield "nodes list", m(lambda g: g.__setitem__("nodes", []))
    yield "bad id", m(lambda g: g["nodes"].__setitem__("a b", copy.deepcopy(n1(g))))
    yield "long id", m(lambda g: g["nodes"].__setitem__("a" * 65, copy.deepcopy(n1(g))))
    yield "node not object", m(lambda g: g["nodes"].__setitem__("n1", []))
    yield "no config", m(lambda g: n1(g).pop("config"))
    yield "config list", m(lambda g: n1(g).__setitem__("config", []))
    yield "type number", m(lambda g: n1(g).__setitem__("type", 1))
    yield "no exits", m(lambda g: n1(g).pop("exits"))
    yield "exit number", m(lambda g: n1(g)["exits"].__setitem__("next", 1))
    yield "exit null", m(lambda g: n1(g)["exits"].__setitem__("next", None))
    yield "unknown node key", m(lambda g: n1(g).__setitem__("colour", "red"))
    yield "position z", m(lambda g: n1(g)["position"].__setitem__("z", 1))
    yield "position text", m(lambda g: n1(g)["position"].__setitem__("x", "1"))
    yield "position bool", m(lambda g: n1(g)["position"].__setitem__("x", True))
    yield "position empty", m(lambda g: n1(g).__setitem__("position", {}))
    yield "too many", big(MAX_NODES + 1)


@pytest.mark.parametrize("name,graph", list(mutations()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_fast_shape_check_never_accepts_what_the_schema_refuses(name, graph, monkeypatch):
    if _graph_shape_ok(graph):
        assert not list(_graph_validator.iter_errors(graph)), name
    # and validate_graph says exactly what it says with the schema pass always run
    fast = validate_graph(graph)
    monkeypatch.setattr("journeys.validation._graph_shape_ok", lambda g: False)
    assert fast == validate_graph(graph), name


def test_two_thousand_nodes_are_valid_and_one_more_is_a_problem():
    assert MAX_NODES == 2000
    assert _graph_shape_ok(big(2000)) and _graph_shape_ok(big(4)) and not _graph_shape_ok(big(2001))
    assert validate_graph(big(2000)) == []
    assert any(
        "2001" in p["message"] or "too many" in p["message"].lower() for p in validate_graph(big(2001))
    )


def test_remembered_config_errors_are_the_same_errors_every_time():
    g = big(4)
    g["nodes"]["n1"]["config"] = {"seconds": "soon"}
    g["nodes"]["n2"]["config"] = {"seconds": "soon"}
    first = validate_graph(g)
    assert [p["node"] for p in first if p["field"] == "config.seconds"] == ["n1", "n2"]
    first[0]["message"] = "changed by a caller"
    assert validate_graph(g)[0]["message"] != "changed by a caller"
    assert validate_graph(g) == validate_graph(g)
