"""Auto-assignment: a queue with round-robin or least-loaded assignment gives its oldest waiting
conversations (most urgent first) to its online agents, each up to the queue's capacity.

`drain` runs inside the transaction of whatever freed or added work (a conversation opened, one
resolved or transferred, an agent back online) and again in the worker's sweep as a safety net.
One drain at a time per workspace: it locks the workspace's InboxSettings row, so two drains
never count the same agent's free places twice (an agent's load counts every queue).
Conversations are taken with SKIP LOCKED (PostgreSQL), so a drain never waits for, nor undoes,
an agent who is changing one of them at that moment.

A drain inside a caller's transaction never waits for that lock: the caller may hold
conversation rows that the lock's holder (a journey round handing off many contacts, which also
takes it to number new conversations) is about to lock, and waiting would be a deadlock. When
the row is taken it drains again right after the caller commits, holding nothing else, and then
it waits its turn.

An agent's load is their open and pending conversations (snoozed ones wait for a time, resolved
ones are done). Only online agents whose role may reply are given work."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db import transaction
from django.db.models import Case, Count, IntegerField, Value, When
from django.utils import timezone

from cpaas.models import Membership, Workspace
from cpaas.roles import role_allows

from . import live
from .models import PRIORITY_RANK, AgentStatus, Conversation, Entry, InboxSettings, Queue, QueueMember

S = Conversation.Status
LOAD_STATUSES = (S.OPEN, S.PENDING)
PRIORITY_ORDER = Case(
    *[When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()],
    default=Value(1),
    output_field=IntegerField(),
)


def _lock_workspace(workspace: Workspace, *, wait: bool) -> bool:
    """Take the workspace's assignment lock; False when another transaction holds it and `wait`
    is False."""
    InboxSettings.objects.get_or_create(workspace=workspace)
    rows = InboxSettings.objects.select_for_update(skip_locked=not wait).filter(pk=workspace.pk)
    return bool(list(rows.values_list("pk", flat=True)))


def online_agents(workspace: Workspace, user_ids) -> list[int]:
    """Of `user_ids`, those online, active in the workspace and allowed to reply, in id order."""
    online = set(
        AgentStatus.objects.filter(
            workspace=workspace, user_id__in=user_ids, availability=AgentStatus.Availability.ONLINE
        ).values_list("user_id", flat=True)
    )
    roles = dict(
        Membership.objects.filter(workspace=workspace, user_id__in=online, is_active=True).values_list(
            "user_id", "role"
        )
    )
    return sorted(u for u, role in roles.items() if role_allows(role, "inbox.reply"))


def loads(workspace: Workspace, user_ids) -> Counter:
    rows = (
        Conversation.objects.filter(workspace=workspace, assignee_id__in=user_ids, status__in=LOAD_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("id"))
    )
    return Counter({r["assignee_id"]: r["n"] for r in rows})


def _pick(queue: Queue, agents: list[int], load: Counter, cursor: int | None) -> int | None:
    """The next agent with a free place: round robin from after the cursor, or the least
    loaded (ties in round-robin order, so equal loads still take turns)."""
    free = [a for a in agents if load[a] < queue.capacity]
    if not free:
        return None
    after = [a for a in free if cursor is not None and a > cursor]
    turn = after + [a for a in free if a not in after]  # round-robin order from the cursor
    if queue.auto_assign == Queue.AutoAssign.LEAST_LOADED:
        return min(turn, key=lambda a: load[a])  # min keeps the first of equals
    return turn[0]


def drain(
    *, workspace: Workspace, queue_ids, now: dt.datetime | None = None, wait: bool = False
) -> list[tuple[int, int]]:
    """Assign waiting conversations of these queues (those with auto-assignment) while their
    online agents have free places. Returns [(conversation id, agent id)]. `wait=True` only
    where the transaction holds no conversation row (after commit, the sweep)."""
    now = now or timezone.now()
    queues = list(
        Queue.objects.filter(workspace=workspace, pk__in=set(queue_ids))
        .exclude(auto_assign=Queue.AutoAssign.OFF)
        .order_by("pk")
    )
    if not queues:
        return []
    done: list[tuple[int, int]] = []
    with transaction.atomic():
        if not _lock_workspace(workspace, wait=wait):
            ids = [q.pk for q in queues]
            transaction.on_commit(lambda: drain(workspace=workspace, queue_ids=ids, wait=True))
            return []
        for queue in queues:
            queue.refresh_from_db(fields=["last_assigned_user_id", "capacity", "auto_assign"])
            members = QueueMember.objects.filter(queue=queue).values_list("user_id", flat=True)
            agents = online_agents(workspace, list(members))
            if not agents:
                continue
            load = loads(workspace, agents)
            places = sum(max(0, queue.capacity - load[a]) for a in agents)
            if not places:
                continue
            waiting = list(
                Conversation.objects.filter(queue=queue, assignee__isnull=True, status=S.OPEN)
                .annotate(rank=PRIORITY_ORDER)
                .order_by("-rank", "opened_at", "pk")
                .select_for_update(skip_locked=True)[:places]
            )
            cursor = queue.last_assigned_user_id
            for conversation in waiting:
                agent = _pick(queue, agents, load, cursor)
                if agent is None:
                    break
                taken = Conversation.objects.filter(
                    pk=conversation.pk, assignee__isnull=True, status=S.OPEN
                ).update(assignee_id=agent, assigned_at=now, updated_at=now)
                if not taken:
                    continue
                conversation.assignee_id = agent
                Entry.objects.create(
                    workspace_id=workspace.pk,
                    conversation=conversation,
                    kind=Entry.Kind.ASSIGNED,
                    data={"from": None, "to": agent, "auto": queue.auto_assign},
                    created_at=now,
                )
                load[agent] += 1
                cursor = agent
                done.append((conversation.pk, agent))
                live.conversation_changed(conversation, "assigned", auto=True)
            if cursor != queue.last_assigned_user_id:
                Queue.objects.filter(pk=queue.pk).update(last_assigned_user_id=cursor)
    return done


def drain_for_agent(
    *, workspace: Workspace, user_id: int, now: dt.datetime | None = None
) -> list[tuple[int, int]]:
    """An agent's places freed (resolved, transferred, back online): drain their queues."""
    queue_ids = QueueMember.objects.filter(user_id=user_id, queue__workspace=workspace).values_list(
        "queue_id", flat=True
    )
    return drain(workspace=workspace, queue_ids=list(queue_ids), now=now)


def drain_all(*, now: dt.datetime | None = None) -> int:
    """Every auto-assigned queue that has someone waiting (the inbox loop's safety net)."""
    now = now or timezone.now()
    waiting = (
        Conversation.objects.filter(assignee__isnull=True, status=S.OPEN)
        .exclude(queue__auto_assign=Queue.AutoAssign.OFF)
        .values_list("workspace_id", "queue_id")
        .distinct()
    )
    by_workspace: dict[int, set[int]] = {}
    for workspace_id, queue_id in waiting:
        by_workspace.setdefault(workspace_id, set()).add(queue_id)
    count = 0
    for workspace in Workspace.objects.filter(pk__in=by_workspace).order_by("pk"):
        count += len(drain(workspace=workspace, queue_ids=by_workspace[workspace.pk], now=now, wait=True))
    return count
