"""Realtime fragments for the phone simulator (topic "simulator"): the same partials the page
renders, pushed through cpaas.realtime.publish (after commit, from any process). A big batch
sends one "refresh" notice instead of rendering every bubble."""

from __future__ import annotations

from django.template.loader import render_to_string

from consent.models import SentBy
from cpaas import bus
from cpaas.realtime import publish, workspace_group

TOPIC = "simulator"
RENDER_LIMIT = 20


def bubble_html(message) -> str:
    return render_to_string("channels_app/simulator.html#bubble", {"m": message})


def ticks_html(status: str) -> str:
    return render_to_string("channels_app/simulator.html#ticks", {"status": status})


def simulator_messages(workspace_id: int, messages: list) -> None:
    if not messages:
        return
    group = workspace_group(workspace_id, TOPIC)
    # A message with a sealed secret (an OTP code) is stored masked: the phone re-reads what the
    # sandbox received instead, so no realtime row ever holds the code.
    sealed = sorted({m.contact_id for m in messages if getattr(m, "sealed", "")})
    messages = [m for m in messages if not getattr(m, "sealed", "")]
    if len(messages) > RENDER_LIMIT:
        sealed = sorted({*sealed, *(m.contact_id for m in messages)})
        messages = []
    if sealed:
        publish(group, {"type": "sim.refresh", "contacts": sealed[:500]})
    for m in messages:
        publish(
            group,
            {
                "type": "sim.message",
                "id": m.pk,
                "contact": m.contact_id,
                "kind": m.kind,
                "html": bubble_html(m),
            },
        )


def simulator_statuses(workspace_id: int, changes: list[tuple[object, str]]) -> None:
    if not changes:
        return
    group = workspace_group(workspace_id, TOPIC)
    if len(changes) > RENDER_LIMIT * 10:
        publish(group, {"type": "sim.refresh", "contacts": sorted({m.contact_id for m, _ in changes})[:500]})
        return
    html = {}
    items = []
    for message, status in changes:
        if status not in html:
            html[status] = ticks_html(status)
        items.append(
            {"id": message.pk, "contact": message.contact_id, "status": status, "html": html[status]}
        )
    publish(group, {"type": "sim.status", "statuses": items})


STATES_NOTICE = "message.states"


def person_states(workspace_id: int, messages) -> None:
    """The delivery states of people's messages (agents' replies) changed: a bus notice with
    their contacts, so the inbox above can show the new state live. Automated sends (a journey's
    bulk) are skipped: nobody watches them message by message, and the hot path stays as it was."""
    contact_ids = sorted({m.contact_id for m in messages if m.sent_by == SentBy.PERSON})
    if contact_ids:
        bus.notify(STATES_NOTICE, workspace_id=workspace_id, contact_ids=contact_ids)
