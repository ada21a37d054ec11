"""The node catalogue: one module per node type; adding a type is a module and a line here."""

from importlib import import_module

from .base import Node

MODULES = [
    "trigger_event",
    "trigger_keyword",
    "trigger_segment",
    "trigger_date",
    "trigger_manual",
    "message_send",
    "message_ask",
    "otp_verify",
    "wait_delay",
    "wait_until",
    "wait_event",
    "split_condition",
    "split_ab",
    "contact_update",
    "webhook_call",
    "inbox_handoff",
    "survey_rating",
    "payment_promise",
    "payment_link",
    "goal",
    "exit",
]

REGISTRY: dict[str, Node] = {}
for _name in MODULES:
    _node = import_module(f"{__name__}.{_name}").NODE
    REGISTRY[_node.type] = _node

TRIGGER_KINDS = {
    "trigger.event": "event",
    "trigger.keyword": "keyword",
    "trigger.segment": "segment",
    "trigger.date_attribute": "date",
    "trigger.manual": "manual",
}


def get_node(node_type: str) -> Node | None:
    return REGISTRY.get(node_type)


def catalogue() -> list[dict]:
    return [node.describe() for node in REGISTRY.values()]
