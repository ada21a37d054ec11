"""The inbox's configuration: queues and their members, canned replies, business hours and the
other workspace settings (`inbox.manage`)."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor
from journeys.merge import render

from .. import assignment
from ..models import CannedReply, InboxSettings, Queue, QueueMember, validate_business_hours
from .conversations import agent_check, inbox_settings_get

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SLA_MAX_S = 90 * 86400


def _seconds(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 60 <= value <= SLA_MAX_S:
        raise ValidationError({field: [f"Seconds from 60 to {SLA_MAX_S:,}, or empty for no target."]})
    return value


@transaction.atomic
def queue_save(
    *,
    actor: Actor,
    workspace: Workspace,
    queue: Queue | None = None,
    name: str,
    label: str = "",
    auto_assign: str = Queue.AutoAssign.OFF,
    capacity: int = 10,
    first_response_s: int | None = None,
    resolution_s: int | None = None,
) -> Queue:
    """Create a queue (queue=None) or change one. `name` is what journeys' hand-off nodes use."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 60:
        errors["name"] = ["A name of 1 to 60 characters, as the journeys' hand-off nodes write it."]
    if auto_assign not in Queue.AutoAssign.values:
        errors["auto_assign"] = [f"One of: {', '.join(Queue.AutoAssign.values)}."]
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 1000:
        errors["capacity"] = ["From 1 to 1,000 open conversations per agent."]
    try:
        first_response_s = _seconds(first_response_s, "first_response_s")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        resolution_s = _seconds(resolution_s, "resolution_s")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if queue is not None and queue.workspace_id != workspace.pk:
        raise ValidationError({"queue": ["No such queue in this workspace."]})
    queue = queue or Queue(workspace=workspace)
    queue.name, queue.label = name, (label or "").strip()[:120] or name
    queue.auto_assign, queue.capacity = auto_assign, capacity
    queue.first_response_s, queue.resolution_s = first_response_s, resolution_s
    try:
        with transaction.atomic():
            queue.save()
    except IntegrityError:
        raise ValidationError({"name": [f"A queue named '{name}' exists already."]}) from None
    audit_record(
        workspace=workspace,
        actor=actor,
        action="inbox.queue.saved",
        target=queue,
        data={"name": name, "auto_assign": auto_assign, "capacity": capacity,
              "first_response_s": first_response_s, "resolution_s": resolution_s},
    )  # fmt: skip
    assignment.drain(workspace=workspace, queue_ids=[queue.pk])
    return queue


@transaction.atomic
def queue_members_set(*, actor: Actor, queue: Queue, users) -> list[int]:
    """The queue's members are exactly `users` (agents of the workspace)."""
    users = list(users)
    for user in users:
        agent_check(queue.workspace, user, "members")
    wanted = {u.pk for u in users}
    current = set(QueueMember.objects.filter(queue=queue).values_list("user_id", flat=True))
    QueueMember.objects.filter(queue=queue, user_id__in=current - wanted).delete()
    QueueMember.objects.bulk_create([QueueMember(queue=queue, user_id=pk) for pk in sorted(wanted - current)])
    audit_record(
        workspace=queue.workspace,
        actor=actor,
        action="inbox.queue.members",
        target=queue,
        data={"added": sorted(wanted - current), "removed": sorted(current - wanted)},
    )
    assignment.drain(workspace=queue.workspace, queue_ids=[queue.pk])
    return sorted(wanted)


@transaction.atomic
def queue_delete(*, actor: Actor, queue: Queue) -> None:
    if queue.conversations.exists():
        raise ValidationError({"queue": ["The queue holds conversations: transfer them first."]})
    audit_record(
        workspace=queue.workspace, actor=actor, action="inbox.queue.deleted", data={"name": queue.name}
    )
    queue.delete()


@transaction.atomic
def canned_reply_save(
    *, actor: Actor, workspace: Workspace, canned: CannedReply | None = None, shortcut: str, body: str
) -> CannedReply:
    shortcut = (shortcut or "").strip().lstrip("/").lower()
    errors = {}
    if not SHORTCUT.match(shortcut):
        errors["shortcut"] = ["Letters, digits, - and _ (up to 40), typed after / in the composer."]
    if not (body or "").strip() or len(body) > 4096:
        errors["body"] = ["The reply's text, up to 4,096 characters."]
    if errors:
        raise ValidationError(errors)
    if canned is not None and canned.workspace_id != workspace.pk:
        raise ValidationError({"canned": ["No such canned reply in this workspace."]})
    canned = canned or CannedReply(workspace=workspace)
    canned.shortcut, canned.body = shortcut, body.strip()
    try:
        with transaction.atomic():
            canned.save()
    except IntegrityError:
        raise ValidationError({"shortcut": [f"/{shortcut} exists already."]}) from None
    audit_record(
        workspace=workspace,
        actor=actor,
        action="inbox.canned_reply.saved",
        target=canned,
        data={"shortcut": shortcut},
    )
    return canned


@transaction.atomic
def canned_reply_delete(*, actor: Actor, canned: CannedReply) -> None:
    audit_record(
        workspace=canned.workspace,
        actor=actor,
        action="inbox.canned_reply.deleted",
        data={"shortcut": canned.shortcut},
    )
    canned.delete()


def canned_reply_render(*, canned: CannedReply, contact, agent=None) -> str:
    """The canned reply's text for this contact: `{{contact.first_name|there}}`, and
    `{{agent.name}}` for the replying agent."""
    name = (agent.get_full_name() or agent.get_username()) if agent is not None else ""
    return render(canned.body, contact=contact, extra={"agent.name": name})


@transaction.atomic
def inbox_settings_update(
    *,
    actor: Actor,
    workspace: Workspace,
    business_hours: dict | None = None,
    default_queue: Queue | None = None,
    idle_away_minutes: int | None = None,
    contacts_open_to_agents: bool | None = None,
    now: dt.datetime | None = None,
) -> InboxSettings:
    """Change what is given (None leaves a setting as it is). Business hours apply to the SLA
    due times of conversations opened from now on."""
    now = now or timezone.now()
    settings = inbox_settings_get(workspace)
    settings = InboxSettings.objects.select_for_update().get(pk=settings.pk)
    changed = {}
    if business_hours is not None:
        try:
            validate_business_hours(business_hours)
        except ValidationError as exc:
            raise ValidationError({"business_hours": exc.messages}) from None
        settings.business_hours = business_hours
        changed["business_hours"] = business_hours
    if default_queue is not None:
        if default_queue.workspace_id != workspace.pk:
            raise ValidationError({"default_queue": ["No such queue in this workspace."]})
        settings.default_queue = default_queue
        changed["default_queue"] = default_queue.name
    if idle_away_minutes is not None:
        if (
            isinstance(idle_away_minutes, bool)
            or not isinstance(idle_away_minutes, int)
            or not (1 <= idle_away_minutes <= 480)
        ):
            raise ValidationError({"idle_away_minutes": ["From 1 to 480 minutes."]})
        settings.idle_away_minutes = idle_away_minutes
        changed["idle_away_minutes"] = idle_away_minutes
    settings.save()
    if contacts_open_to_agents is not None and contacts_open_to_agents != workspace.contacts_open_to_agents:
        Workspace.objects.filter(pk=workspace.pk).update(
            contacts_open_to_agents=bool(contacts_open_to_agents)
        )
        workspace.contacts_open_to_agents = bool(contacts_open_to_agents)
        changed["contacts_open_to_agents"] = bool(contacts_open_to_agents)
    if changed:
        audit_record(workspace=workspace, actor=actor, action="inbox.settings.changed", data=changed, at=now)
    return settings
