"""Realtime for the inbox: what changed in a conversation reaches, over `cpaas.realtime`, only
the sockets allowed to see it.

Groups (all inside the workspace, `cpaas.realtime.workspace_group`):
- `inbox.queue.<queue id>`: the members of that queue;
- `inbox.user.<user id>`: one agent (the assignee, who may not be a member of the queue; mentions);
- `inbox.all`: those who see every queue (admins, `inbox.supervise`).

`topics_for(membership)` lists the topics a socket of that membership may join; the consumer
joins no other inbox topic. Every service calls `conversation_changed` (or `user_notified`);
the event is published when the transaction commits, so a rolled-back change is never shown,
and it is built then, from the committed row, so it carries the final state."""

from __future__ import annotations

import uuid

from django.db import transaction

from cpaas.realtime import publish, workspace_group
from cpaas.roles import role_allows

from .models import Conversation, QueueMember

ALL = "inbox.all"
EVENT = "inbox.conversation"


def queue_topic(queue_id: int) -> str:
    return f"inbox.queue.{queue_id}"


def user_topic(user_id: int) -> str:
    return f"inbox.user.{user_id}"


def topics_for(membership) -> list[str]:
    """The inbox topics this membership's socket may join (none without `inbox.view`)."""
    if membership is None or not role_allows(membership.role, "inbox.view"):
        return []
    if role_allows(membership.role, "inbox.supervise"):
        return [ALL, user_topic(membership.user_id)]
    queue_ids = QueueMember.objects.filter(
        user_id=membership.user_id, queue__workspace_id=membership.workspace_id
    ).values_list("queue_id", flat=True)
    return [queue_topic(q) for q in sorted(queue_ids)] + [user_topic(membership.user_id)]


def groups_for(membership) -> list[str]:
    """The realtime groups of the `inbox` topic a socket of `membership` joins
    (`cpaas.realtime.register_topic(groups=...)`, registered in apps.py)."""
    return [workspace_group(membership.workspace_id, t) for t in topics_for(membership)]


def payload(conversation: Conversation, what: str, data: dict) -> dict:
    """The event a browser gets. Ids and states only: the page fetches the partial it shows,
    with its own permissions (inbox-ui may add rendered partials here). A socket in several of
    the groups (a queue member who is also the assignee) gets it more than once: `event_id`
    lets the page drop the copies."""
    return {
        "type": EVENT,
        "event_id": uuid.uuid4().hex,
        "what": what,
        "conversation_id": conversation.pk,
        "number": conversation.number,
        "queue_id": conversation.queue_id,
        "status": conversation.status,
        "priority": conversation.priority,
        "assignee_id": conversation.assignee_id,
        "waiting_since": conversation.waiting_since.isoformat() if conversation.waiting_since else None,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        **data,
    }


def _groups(conversation: Conversation, extra_queue_ids=(), extra_user_ids=()) -> list[str]:
    ws = conversation.workspace_id
    topics = {ALL, queue_topic(conversation.queue_id)}
    topics |= {queue_topic(q) for q in extra_queue_ids if q}
    users = {conversation.assignee_id, *extra_user_ids} - {None}
    topics |= {user_topic(u) for u in users}
    return [workspace_group(ws, t) for t in sorted(topics)]


def conversation_changed(
    conversation: Conversation, what: str, *, also_queues=(), also_users=(), **data
) -> None:
    """After commit, tell everyone who may see `conversation` that `what` happened ("opened",
    "message", "assigned", "status", "note", ...). `also_queues` / `also_users`: who saw it
    before the change (a transfer leaves a queue, an unassigned agent)."""
    pk = conversation.pk
    also_queues, also_users = tuple(also_queues), tuple(also_users)

    def send() -> None:
        current = Conversation.objects.filter(pk=pk).first()
        if current is None:
            return
        event = payload(current, what, data)
        with transaction.atomic():
            for group in _groups(current, also_queues, also_users):
                publish(group, event)

    transaction.on_commit(send)


def user_notified(workspace_id: int, user_id: int, event: dict) -> None:
    """After commit, an event for one agent only (a mention)."""
    transaction.on_commit(lambda: publish(workspace_group(workspace_id, user_topic(user_id)), event))
