"""Validation of a whole graph: the format (one JSON Schema, `schema` version 1), every node's
config (its type's schema, then its checks against the workspace), every exit connected or
explicitly ended (null), nothing unreachable, no loop that can go round without waiting (per exit:
see `Node.waiting_exits`), one trigger at the start.
Returns problems, never raises: [{"node": id or None, "field": "config.x" or "", "message", "text"}]:
`text` is the one sentence every screen shows ("'Reminder SMS': connect the 'next' exit or end
it."), naming the node by its title (`node_title`), the field by its form label."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property

from jsonschema import Draft202012Validator

from contacts.event_names import STANDARD_EVENTS

from .merge import CONTACT_FIELDS, fields_in
from .nodes import REGISTRY, TRIGGER_KINDS

SCHEMA_VERSION = 1
NODE_ID = r"^[A-Za-z0-9_-]{1,64}$"
MAX_NODES = 2000  # Twilio Studio's limit per flow

GRAPH_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://cpaas.example/schemas/journey-graph-1.json",
    "title": "Journey graph",
    "type": "object",
    "required": ["schema", "start", "nodes"],
    "properties": {
        "schema": {"const": SCHEMA_VERSION},
        "start": {"type": "string", "pattern": NODE_ID},
        "nodes": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": MAX_NODES,
            "propertyNames": {"pattern": NODE_ID},
            "additionalProperties": {
                "type": "object",
                "required": ["type", "config", "exits"],
                "properties": {
                    "type": {"type": "string"},
                    "label": {"type": "string", "maxLength": 80},
                    "config": {"type": "object"},
                    "position": {
                        "type": "object",
                        "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                        "additionalProperties": False,
                    },
                    "exits": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
                },
                "additionalProperties": False,
            },
        },
        "meta": {"type": "object"},
    },
    "additionalProperties": False,
}
_graph_validator = Draft202012Validator(GRAPH_SCHEMA)
_node_validators = {t: Draft202012Validator(n.schema) for t, n in REGISTRY.items()}


def problem(node, field_, message, text: str = "") -> dict:
    out = {"node": node, "field": field_, "message": message}
    if text:
        out["text"] = text
    return out


def node_title(node: dict) -> str:
    """What a node is called everywhere: its label, else a default from its config."""
    if isinstance(node, dict) and isinstance(node.get("label"), str) and node["label"].strip():
        return node["label"].strip()
    return default_title(node)


def default_title(node: dict) -> str:
    type_ = node.get("type") if isinstance(node, dict) else None
    spec = REGISTRY.get(type_) if isinstance(type_, str) else None
    if spec is None:
        return str(node.get("type") or "node") if isinstance(node, dict) else "node"
    config = node.get("config") if isinstance(node.get("config"), dict) else {}
    try:
        return spec.title(config) or spec.label
    except Exception:  # a config the schema refuses: the type's label still names it
        return spec.label


def _lower_first(message: str) -> str:
    # "Connect the…" -> "connect the…", but "SMS…" and "'x'…" stay as written
    if len(message) > 1 and message[0].isupper() and message[1].islower():
        return message[0].lower() + message[1:]
    return message


def _field_words(type_: str, field_: str) -> str:
    """config.template.en -> "Message per language (en)": the label the node's form shows."""
    if not field_.startswith("config."):
        return ""
    path = field_.split(".")[1:]
    spec = REGISTRY.get(type_)
    labels = {f["name"]: f.get("label", f["name"]) for f in (spec.form if spec else []) if f.get("name")}
    for n in range(len(path), 0, -1):
        name = ".".join(path[:n])
        if name in labels:
            rest = path[n:]
            break
    else:
        name, rest = path[0], path[1:]
        labels[name] = name.replace("_", " ").capitalize()
    extra = " ".join(f"#{int(p) + 1}" if p.isdigit() else p for p in rest if p)
    return f"{labels[name]} ({extra})" if extra else labels[name]


def problem_text(p: dict, nodes: dict) -> str:
    if p.get("text"):
        return p["text"]
    node = nodes.get(p["node"]) if p.get("node") and isinstance(nodes, dict) else None
    if not isinstance(node, dict):
        return p["message"] if not p.get("node") else f"'{p['node']}': {_lower_first(p['message'])}"
    words = _field_words(node.get("type") if isinstance(node.get("type"), str) else "", p.get("field") or "")
    message = f"{words}: {_lower_first(p['message'])}" if words else _lower_first(p["message"])
    return f"'{node_title(node)}': {message}"


@dataclass
class Context:
    """What the workspace has, for checks that need it. Built lazily, one query each."""

    workspace: object
    _events: dict = field(default_factory=dict)

    @cached_property
    def channel_kinds(self) -> set[str]:
        from channels_app.models import Channel

        return set(
            Channel.objects.filter(workspace=self.workspace, status=Channel.Status.ACTIVE).values_list(
                "kind", flat=True
            )
        )

    @cached_property
    def channel_ids(self) -> set[int]:
        from channels_app.models import Channel

        return set(
            Channel.objects.filter(workspace=self.workspace, status=Channel.Status.ACTIVE).values_list(
                "pk", flat=True
            )
        )

    @cached_property
    def attributes(self) -> dict[str, str]:
        from contacts.models import AttributeDefinition

        return dict(AttributeDefinition.objects.filter(workspace=self.workspace).values_list("key", "type"))

    @cached_property
    def segment_ids(self) -> set[int]:
        from contacts.models import Segment

        return set(Segment.objects.filter(workspace=self.workspace).values_list("pk", flat=True))

    @cached_property
    def purposes(self) -> set[str]:
        builtin = {"transactional", "otp", "marketing", "collections"}
        try:
            from consent.models import Purpose

            return builtin | set(
                Purpose.objects.filter(workspace=self.workspace).values_list("key", flat=True)
            )
        except Exception:  # the registry may not have custom purposes
            return builtin

    contact_fields = frozenset({"first_name", "last_name", "phone", "email", "language", "timezone",
                                "preferred_channel", "external_id", "is_vulnerable"})  # fmt: skip

    def event_known(self, name: str) -> bool:
        if name in STANDARD_EVENTS:
            return True
        if name not in self._events:
            from contacts.models import Event

            self._events[name] = Event.objects.filter(workspace=self.workspace, name=name).exists()
        return self._events[name]

    def check_event(self, name, where: str) -> list[tuple[str, str]]:
        if not name:
            return []
        if not self.event_known(name):
            return [
                (
                    where,
                    f"No '{name}' event has been received in this workspace yet (send one first, or use a standard event).",
                )
            ]
        return []

    def check_attribute(self, key, where: str, want: str | None = None) -> list[tuple[str, str]]:
        if not key:
            return [(where, "Choose an attribute.")]
        if key not in self.attributes:
            return [(where, f"Unknown attribute '{key}' (Contacts → Attributes defines them).")]
        if want and self.attributes[key] != want:
            return [(where, f"'{key}' is a {self.attributes[key]} attribute; a {want} one is needed.")]
        return []

    def check_merge_fields(self, template, where: str) -> list[tuple[str, str]]:
        problems = []
        for root, path in fields_in(template):
            if (
                root == "contact"
                and path
                and path[0] not in CONTACT_FIELDS
                and path[0] not in self.attributes
            ):
                problems.append(
                    (where, f"{{{{contact.{path[0]}}}}} is neither a contact field nor an attribute.")
                )
        return problems


def _field(path) -> str:
    return ".".join(str(p) for p in path)


def _message(err) -> str:
    if err.validator == "required":
        return "Required."
    if err.validator == "additionalProperties":
        return f"Unknown field: {err.message.split('(')[-1].rstrip(')').strip()}"
    if err.validator == "enum":
        return f"One of: {', '.join(map(str, err.validator_value))}."
    if err.validator == "pattern":
        return f"'{err.instance}' has the wrong form."
    return err.message


def _schema_errors(validator, instance, prefix: str) -> list[tuple[str, str]]:
    out = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        path = list(err.absolute_path)
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else ""
            path = path + [missing]
        out.append((_field([prefix, *path]) if prefix else _field(path), _message(err)))
    return out


# A node config's schema errors depend on nothing but its type and its JSON, and an autosave
# re-validates every node though one changed: remember them per process (bounded).
_config_cache: dict[tuple[str, str], tuple] = {}


def _config_errors(type_: str, config: dict) -> list[tuple[str, str]]:
    key = (type_, json.dumps(config, sort_keys=True, separators=(",", ":"), default=repr))
    hit = _config_cache.get(key)
    if hit is None:
        if len(_config_cache) >= 20_000:
            _config_cache.clear()
        hit = _config_cache[key] = tuple(_schema_errors(_node_validators[type_], config, "config"))
    return list(hit)


def node_exits(node: dict) -> list[str]:
    spec = REGISTRY.get(node.get("type"))
    return spec.exit_names(node.get("config") or {}) if spec else []


def graph_edges(graph: dict) -> dict[str, list[str]]:
    nodes = graph.get("nodes") or {}
    return {nid: [t for t in (n.get("exits") or {}).values() if t in nodes] for nid, n in nodes.items()}


_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_GRAPH_KEYS = frozenset({"schema", "start", "nodes", "meta"})
_NODE_KEYS = frozenset({"type", "label", "config", "position", "exits"})


def _number(v) -> bool:
    return type(v) in (int, float)


def _graph_shape_ok(graph: dict) -> bool:
    """True only when `graph` certainly satisfies GRAPH_SCHEMA: the same rules in plain Python,
    about 10x faster than the jsonschema pass over 2,000 nodes. Anything unusual answers False
    and the schema itself runs, so the problems (and their wording) come from one place."""
    if not (graph.keys() <= _GRAPH_KEYS and "nodes" in graph and "start" in graph):
        return False
    if type(graph.get("schema")) is not int or graph["schema"] != SCHEMA_VERSION:
        return False
    start, nodes = graph["start"], graph["nodes"]
    if type(start) is not str or not _ID.fullmatch(start) or type(graph.get("meta", {})) is not dict:
        return False
    if type(nodes) is not dict or not 1 <= len(nodes) <= MAX_NODES:
        return False
    for nid, node in nodes.items():
        if not _ID.fullmatch(nid) or type(node) is not dict or not node.keys() <= _NODE_KEYS:
            return False
        if type(node.get("type")) is not str or type(node.get("config")) is not dict:
            return False
        exits = node.get("exits")
        if type(exits) is not dict or any(t is not None and type(t) is not str for t in exits.values()):
            return False
        if "label" in node and (type(node["label"]) is not str or len(node["label"]) > 80):
            return False
        if "position" in node:
            pos = node["position"]
            if type(pos) is not dict or not pos.keys() <= {"x", "y"} or not all(map(_number, pos.values())):
                return False
    return True


def validate_graph(graph, *, workspace=None, context: Context | None = None) -> list[dict]:
    problems = _validate(graph, workspace=workspace, context=context)
    nodes = graph.get("nodes") if isinstance(graph, dict) and isinstance(graph.get("nodes"), dict) else {}
    for p in problems:
        p["text"] = problem_text(p, nodes)
    return problems


def _validate(graph, *, workspace=None, context: Context | None = None) -> list[dict]:
    if not isinstance(graph, dict):
        return [problem(None, "", "The graph must be a JSON object.")]
    problems = []
    shape_errors = [] if _graph_shape_ok(graph) else _schema_errors(_graph_validator, graph, "")
    for where, message in shape_errors:
        parts = where.split(".")
        if parts[0] == "nodes" and len(parts) > 1:
            problems.append(problem(parts[1], ".".join(parts[2:]), message))
        else:
            problems.append(problem(None, where, message))
    if problems:
        return problems
    ctx = context or (Context(workspace) if workspace is not None else None)
    nodes: dict = graph["nodes"]
    start = graph["start"]
    if start not in nodes:
        problems.append(problem(None, "start", f"The start node '{start}' does not exist."))
    elif nodes[start]["type"] not in TRIGGER_KINDS:
        problems.append(problem(start, "type", "The journey must start with a trigger."))

    for nid, node in nodes.items():
        spec = REGISTRY.get(node["type"])
        if spec is None:
            problems.append(problem(nid, "type", f"Unknown node type '{node['type']}'."))
            continue
        if node["type"] in TRIGGER_KINDS and nid != start:
            problems.append(problem(nid, "type", "Only one trigger: the start node."))
        config = node["config"]
        errors = _config_errors(node["type"], config)
        for where, message in errors:
            problems.append(problem(nid, where, message))
        if not errors and ctx is not None:
            for where, message in spec.check(config, ctx):
                problems.append(problem(nid, f"config.{where}", message))
        wanted = spec.exit_names(config) if not errors else list(node["exits"])
        for name in wanted:
            if name not in node["exits"]:
                problems.append(problem(nid, f"exits.{name}", f"Connect the '{name}' exit or end it."))
        for name, target in node["exits"].items():
            if not errors and name not in wanted:
                problems.append(problem(nid, f"exits.{name}", f"'{spec.label}' has no '{name}' exit."))
            elif target is not None and target not in nodes:
                problems.append(problem(nid, f"exits.{name}", f"Goes to '{target}', which does not exist."))
            elif target is not None and nodes[target]["type"] in TRIGGER_KINDS:
                problems.append(problem(nid, f"exits.{name}", "An exit cannot lead back into the trigger."))

    if start in nodes:
        edges = graph_edges(graph)
        seen, todo = {start}, [start]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for nid, node in nodes.items():
            if nid not in seen and node["type"] != "goal":
                problems.append(problem(nid, "", "Unreachable: no path from the trigger leads here."))
        problems += _loops_without_a_wait(nodes)
    return problems


def _loops_without_a_wait(nodes: dict) -> list[dict]:
    """A loop is allowed only through an exit that waits (for time, a reply or an event): any
    cycle among the exits that may be taken at once would send a contact round it without a
    pause. One problem per such loop, on the first exit of one concrete cycle."""
    instant: dict[str, list[tuple[str, str]]] = {}  # node -> [(exit, target)] taken at once
    for nid, node in nodes.items():
        spec = REGISTRY.get(node["type"])
        waiting = spec.waiting_exits(node["config"]) if spec else frozenset()
        instant[nid] = [
            (name, target)
            for name, target in node["exits"].items()
            if target in nodes and name not in waiting
        ]
    edges = {nid: [t for _, t in out] for nid, out in instant.items()}
    problems = []
    for component in _cycles(edges):
        path = _cycle_through(component[0], set(component), instant)
        hops = " → ".join(f"{nid} ({exit_})" for nid, exit_ in path)
        named = " → ".join(f"'{node_title(nodes[nid])}' ({exit_})" for nid, exit_ in path)
        first, first_exit = path[0]
        why = (
            "A contact would go round it at once; "
            "lead it through an exit that waits (a wait, a question's reply or timeout, an event)."
        )
        problems.append(
            problem(
                first,
                f"exits.{first_exit}",
                f"Loop without a wait: {hops} → {first}. {why}",
                f"Loop without a wait: {named} → '{node_title(nodes[first])}'. {why}",
            )
        )
    return problems


def _cycle_through(start: str, members: set[str], instant: dict) -> list[tuple[str, str]]:
    """The shortest cycle from `start` back to it inside one strongly connected component:
    [(node, exit taken), ...] (breadth first, so the message names a loop a person can follow)."""
    came_from: dict[str, tuple[str, str]] = {}
    frontier = [start]
    while frontier:
        following = []
        for nid in frontier:
            for exit_, target in instant[nid]:
                if target not in members:
                    continue
                if target == start:
                    path = [(nid, exit_)]
                    while path[0][0] != start:
                        path.insert(0, came_from[path[0][0]])
                    return path
                if target not in came_from:
                    came_from[target] = (nid, exit_)
                    following.append(target)
        frontier = following
    return [(start, "")]  # not reached: a component from _cycles always holds a cycle


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that contain a cycle (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = edges.get(node, [])
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in edges.get(node, []):
                    out.append(list(reversed(comp)))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def trigger_of(graph: dict) -> tuple[str, dict]:
    node = (graph.get("nodes") or {}).get(graph.get("start"), {})
    return node.get("type", ""), node.get("config") or {}


def goals_of(graph: dict) -> list[tuple[str, dict]]:
    return [
        (nid, n.get("config") or {})
        for nid, n in (graph.get("nodes") or {}).items()
        if n.get("type") == "goal"
    ]
