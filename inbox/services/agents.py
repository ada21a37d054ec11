"""Agent availability: online / away / offline, set by hand or to away by idle time. An agent
coming online takes waiting conversations of their queues (auto-assignment)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.realtime import publish, workspace_group
from cpaas.tenancy import Actor

from .. import assignment, live
from ..models import AgentStatus, InboxSettings

A = AgentStatus.Availability
SEEN_EVERY = dt.timedelta(seconds=30)  # activity pings closer than this write nothing


def _status_row(workspace: Workspace, user, now) -> AgentStatus:
    row, _ = AgentStatus.objects.get_or_create(
        workspace=workspace, user=user, defaults={"changed_at": now, "last_seen_at": now}
    )
    return row


def _announce(workspace_id: int, user_id: int, availability: str) -> None:
    event = {"type": "inbox.agent", "user_id": user_id, "availability": availability}
    transaction.on_commit(lambda: publish(workspace_group(workspace_id, live.ALL), event))


@transaction.atomic
def agent_status_set(
    *, actor: Actor, workspace: Workspace, user, availability: str, now: dt.datetime | None = None
) -> AgentStatus:
    """An agent sets their availability by hand (an admin may set anyone's)."""
    now = now or timezone.now()
    if availability not in A.values:
        raise ValidationError({"availability": [f"One of: {', '.join(A.values)}."]})
    from .conversations import agent_check

    agent_check(workspace, user, "user")
    row = _status_row(workspace, user, now)
    row = AgentStatus.objects.select_for_update().get(pk=row.pk)
    before = row.availability
    row.availability, row.set_by, row.changed_at, row.last_seen_at = (
        availability,
        AgentStatus.SetBy.HAND,
        now,
        now,
    )
    row.save()
    if before != availability:
        audit_record(
            workspace=workspace,
            actor=actor,
            action="inbox.agent.availability",
            data={"user_id": user.pk, "from": before, "to": availability},
            at=now,
        )
        _announce(workspace.pk, user.pk, availability)
        if availability == A.ONLINE:
            assignment.drain_for_agent(workspace=workspace, user_id=user.pk, now=now)
    return row


@transaction.atomic
def agent_seen(*, workspace: Workspace, user, now: dt.datetime | None = None) -> AgentStatus:
    """The agent did something in the inbox (page, socket, reply): their idle clock restarts,
    and one made away by idle time is online again."""
    now = now or timezone.now()
    row = _status_row(workspace, user, now)
    if row.availability == A.AWAY and row.set_by == AgentStatus.SetBy.IDLE:
        back = AgentStatus.objects.filter(
            pk=row.pk, availability=A.AWAY, set_by=AgentStatus.SetBy.IDLE
        ).update(availability=A.ONLINE, set_by=AgentStatus.SetBy.HAND, changed_at=now, last_seen_at=now)
        if back:
            row.availability, row.last_seen_at = A.ONLINE, now
            _announce(workspace.pk, user.pk, A.ONLINE)
            assignment.drain_for_agent(workspace=workspace, user_id=user.pk, now=now)
        return row
    if row.last_seen_at is None or now - row.last_seen_at >= SEEN_EVERY:
        AgentStatus.objects.filter(pk=row.pk).update(last_seen_at=now)
        row.last_seen_at = now
    return row


def idle_agents_away(*, now: dt.datetime | None = None) -> int:
    """Online agents without activity for their workspace's idle_away_minutes become away
    (InboxSettings default when the workspace has none)."""
    now = now or timezone.now()
    default = InboxSettings._meta.get_field("idle_away_minutes").default
    count = 0
    workspaces = set(AgentStatus.objects.filter(availability=A.ONLINE).values_list("workspace_id", flat=True))
    minutes = dict(InboxSettings.objects.filter(pk__in=workspaces).values_list("pk", "idle_away_minutes"))
    for workspace_id in sorted(workspaces):
        limit = now - dt.timedelta(minutes=minutes.get(workspace_id) or default)
        with transaction.atomic():
            idle = list(
                AgentStatus.objects.select_for_update(skip_locked=True)
                .filter(workspace_id=workspace_id, availability=A.ONLINE, last_seen_at__lt=limit)
                .values_list("pk", "user_id")
            )
            AgentStatus.objects.filter(pk__in=[pk for pk, _ in idle]).update(
                availability=A.AWAY, set_by=AgentStatus.SetBy.IDLE, changed_at=now
            )
            for _pk, user_id in idle:
                _announce(workspace_id, user_id, A.AWAY)
        count += len(idle)
    return count
