"""Reads for the contact panel beside a conversation (issue 13 items 6 and 8): who the customer
is, what they agreed to, where they are in journeys, what happened lately, what they promised,
and how many collection calls are left under the 7-in-7 rule. A fixed number of queries
whatever the contact's history (the lists are capped)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from contacts.models import AttributeDefinition, Contact, Event
from journeys.engine.graph import graphs_for
from journeys.models import Enrollment, PromiseToPay

from .models import Conversation

JOURNEYS_SHOWN = 10
EVENTS_SHOWN = 10
PROMISES_SHOWN = 10
# Regulation F 1006.14(b)(2)(i): the collections/voice frequency cap (consent's defaults) is
# the call-attempt counter; agents' calls are held to it by consent.check() like any send
CALL_PURPOSE, CALL_KIND = "collections", "voice"


@dataclass
class JourneyLine:
    enrollment: Enrollment
    node_label: str  # where the contact is (open) or ended (closed)
    node_type: str


@dataclass
class PromiseLine:
    promise: PromiseToPay
    state: str  # promised | due today | overdue | kept | broken | cancelled

    @property
    def css(self) -> str:
        return {"kept": "ok", "broken": "danger", "overdue": "danger", "due today": "warn"}.get(
            self.state, ""
        )


def promise_state(promise: PromiseToPay, today: dt.date) -> str:
    """What an agent needs to read: a promise not yet settled is pending, due today or overdue
    (the journey settles it as broken after its days of grace)."""
    if promise.status == PromiseToPay.Status.PAID:
        return "kept"
    if promise.status != PromiseToPay.Status.PROMISED:
        return promise.status  # broken, cancelled
    if promise.due_date == today:
        return "due today"
    return "overdue" if promise.due_date < today else "promised"


def _journeys(contact: Contact) -> list[JourneyLine]:
    enrollments = list(
        Enrollment.objects.filter(contact=contact, is_test=False)
        .select_related("journey")
        .order_by("-entered_at", "-id")[:JOURNEYS_SHOWN]
    )
    graphs = graphs_for(e.version_id for e in enrollments)
    lines = []
    for e in enrollments:
        graph = graphs.get(e.version_id)
        node = (graph.node(e.node) if graph else None) or {}
        lines.append(JourneyLine(e, node.get("label") or e.node, node.get("type", "")))
    # open first (what the contact is in now), then the past, newest first
    return sorted(lines, key=lambda line: not line.enrollment.is_open)


def contact_panel(*, conversation: Conversation, now: dt.datetime) -> dict:
    """Everything the panel shows for the conversation's contact."""
    from consent.selectors import cap_usage, consent_matrix
    from journeys.services.promises import contact_today

    contact = conversation.contact
    workspace = conversation.workspace
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(workspace=workspace)}
    attributes = [
        (definitions[k].label if k in definitions else k, v) for k, v in sorted(contact.attributes.items())
    ]
    purposes, rows = consent_matrix(workspace=workspace, contact=contact)
    today = contact_today(contact, now)
    promises = [
        PromiseLine(p, promise_state(p, today))
        for p in PromiseToPay.objects.filter(workspace=workspace, contact=contact)
        .select_related("recorded_by")
        .order_by("-created_at", "-id")[:PROMISES_SHOWN]
    ]
    calls = cap_usage(
        workspace=workspace, contact=contact, purpose=CALL_PURPOSE, channel_kind=CALL_KIND, at=now
    )
    return {
        "contact": contact,
        "conversation": conversation,
        "attributes": attributes,
        "tags": sorted(t.name for t in contact.tags.all()),
        "consent_purposes": purposes,
        "consent_rows": [r for r in rows if r["has_address"]],
        "journeys": _journeys(contact),
        "events": list(
            Event.objects.filter(workspace=workspace, contact=contact).order_by("-occurred_at", "-id")[
                :EVENTS_SHOWN
            ]
        ),
        "promises": promises,
        "calls": calls[0] if calls else None,
        "today": today,
    }
