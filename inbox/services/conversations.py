"""Conversations: opened or reopened by an inbound message or a journey's hand-off, assigned,
transferred, snoozed, resolved (which tells the journey) or returned to the journey.

The status has one owner: `_status_apply` (a guarded UPDATE from the allowed sources, an
activity entry only when the row changed). Every function is keyword-only and atomic, writes
its audit entry, and announces the change after commit (`inbox.live`)."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact
from contacts.services import event_record
from cpaas.audit import audit_record
from cpaas.locks import lock_refresh
from cpaas.models import Membership, Workspace
from cpaas.roles import role_allows
from cpaas.tenancy import Actor

from .. import assignment, live, sla
from ..models import PRIORITY_RANK, Conversation, Entry, InboxSettings, Priority, Queue, ReadMarker

S = Conversation.Status
RESOLVED_EVENT = "conversation.resolved"  # what a journey's inbox.handoff node waits for
HANDOFF_EVENT = "inbox.handoff_requested"
DEFAULT_QUEUE = "support"
# An inbound message this soon after a conversation was resolved reopens it; later, a new one.
REOPEN_WITHIN = dt.timedelta(days=7)

# to -> the statuses it may come from
TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.PENDING, S.SNOOZED, S.RESOLVED}),
    S.PENDING: frozenset({S.OPEN, S.SNOOZED}),
    S.SNOOZED: frozenset({S.OPEN, S.PENDING}),
    S.RESOLVED: frozenset({S.OPEN, S.PENDING, S.SNOOZED}),
}


def _when(now: dt.datetime | None) -> dt.datetime:
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be an aware datetime")
    return now


def _user(actor: Actor | None):
    return actor.user if actor is not None and actor.kind == "user" else None


def _name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def entry_add(
    conversation: Conversation,
    kind: str,
    *,
    at: dt.datetime,
    author=None,
    body: str = "",
    data: dict | None = None,
) -> Entry:
    return Entry.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        kind=kind,
        author=author,
        body=body,
        data=data or {},
        created_at=at,
    )


# --- settings, queues, numbers --------------------------------------------------------------------


def inbox_settings_get(workspace: Workspace) -> InboxSettings:
    """The workspace's inbox settings, created with the defaults on first use."""
    settings, _ = InboxSettings.objects.get_or_create(workspace=workspace)
    return settings


def queue_for_name(workspace: Workspace, name: str) -> Queue:
    """The queue a hand-off names, created on first use (label = name, no SLA, claim only)."""
    name = (name or "").strip()[:60] or DEFAULT_QUEUE
    queue = Queue.objects.filter(workspace=workspace, name=name).first()
    if queue is not None:
        return queue
    try:
        with transaction.atomic():
            return Queue.objects.create(workspace=workspace, name=name, label=name)
    except IntegrityError:  # created concurrently
        return Queue.objects.get(workspace=workspace, name=name)


def default_queue(workspace: Workspace, settings: InboxSettings) -> Queue:
    if settings.default_queue_id:
        return settings.default_queue
    return queue_for_name(workspace, DEFAULT_QUEUE)


def _next_number(workspace: Workspace) -> int:
    """The workspace's next conversation number.

    PostgreSQL: `nextval` of the workspace's own sequence. A sequence never waits for another
    transaction, so openings in one workspace don't queue behind each other's webhook
    transactions (a counter row updated in the transaction was held until commit: an inbound
    burst opened ~5 conversations/s). The price is gaps: a rolled-back opening's number is not
    given again. The sequence is created on the workspace's first opening, starting after the
    numbers already given; two first openings at once wait for each other that once.

    SQLite has one writer at a time anyway: the settings row's counter, in the transaction,
    without gaps."""
    if connection.vendor != "postgresql":
        InboxSettings.objects.filter(pk=workspace.pk).update(last_number=F("last_number") + 1)
        return InboxSettings.objects.filter(pk=workspace.pk).values_list("last_number", flat=True).get()
    name = f"inbox_conversation_number_{int(workspace.pk)}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if not cursor.fetchone()[0]:
            cursor.execute(
                "SELECT GREATEST(COALESCE(MAX(number), 0), %s) + 1 FROM inbox_conversation WHERE workspace_id = %s",
                [
                    InboxSettings.objects.filter(pk=workspace.pk)
                    .values_list("last_number", flat=True)
                    .first()
                    or 0,
                    workspace.pk,
                ],
            )
            start = int(cursor.fetchone()[0])
            try:
                with transaction.atomic():
                    cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {name} START {start}")
            except (IntegrityError, ProgrammingError):
                pass  # created by a concurrent first opening, which committed meanwhile
        cursor.execute("SELECT nextval(%s)", [name])
        return int(cursor.fetchone()[0])


# --- the status owner -------------------------------------------------------------------------------


def _status_apply(
    conversation: Conversation, to: str, *, at: dt.datetime, actor: Actor | None, **fields
) -> bool:
    """Move `conversation` to `to` from an allowed status (guarded UPDATE) with `fields`; an
    activity entry and True only when the row changed. The caller's object is updated."""
    before = conversation.status
    if before == to:
        return False
    changed = Conversation.objects.filter(pk=conversation.pk, status__in=TRANSITIONS[to]).update(
        status=to, updated_at=at, **fields
    )
    if not changed:
        return False
    conversation.status = to
    for name, value in fields.items():
        setattr(conversation, name, value)
    data = {"from": before, "to": to}
    if fields.get("snoozed_until"):
        data["until"] = fields["snoozed_until"].isoformat()
    if fields.get("disposition"):
        data["disposition"] = fields["disposition"]
    entry_add(conversation, Entry.Kind.STATUS_CHANGED, at=at, author=_user(actor), data=data)
    return True


def _sla_fields(conversation: Conversation, settings: InboxSettings, start: dt.datetime) -> dict:
    return sla.due_times(conversation, settings=settings, start=start)


# --- open or reopen ---------------------------------------------------------------------------------


@transaction.atomic
def conversation_open_or_reopen(
    *,
    workspace: Workspace,
    contact: Contact,
    actor: Actor,
    queue: Queue | None = None,
    priority: str | None = None,
    message=None,
    handoff: dict | None = None,
    review_reason: str = "",
    now: dt.datetime | None = None,
) -> tuple[Conversation, bool]:
    """The contact's conversation, open: the unresolved one, else the one resolved in the last
    REOPEN_WITHIN, reopened, else a new one. Returns (conversation, opened) where opened says
    it was created or reopened.

    - `message`: an inbound Message: the contact now waits (waiting_since), and the composer
      will default to its channel.
    - `handoff`: a journey's hand-off ({"queue", "priority", "note", "journey_id",
      "enrollment_id", "node"}): an entry with the note; the conversation moves to the queue
      unless an agent already has it; the enrolment is kept to resume it.
    - `review_reason`: flags the conversation for review (an opt-out the keyword rules could
      not decide)."""
    now = _when(now)
    if contact.workspace_id != workspace.pk:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    if queue is not None and queue.workspace_id != workspace.pk:
        raise ValidationError({"queue": ["No such queue in this workspace."]})
    if priority is not None and priority not in Priority.values:
        raise ValidationError({"priority": [f"One of: {', '.join(Priority.values)}."]})
    settings = inbox_settings_get(workspace)
    at = message.created_at if message is not None else now
    conversation, opened = _find_or_open(workspace, contact, settings, queue, now)
    created = opened == "created"
    updates: dict = {}
    # the contact waits from their first unanswered message or the hand-off
    if (message is not None or handoff) and conversation.waiting_since is None:
        updates["waiting_since"] = at
    if message is not None:
        if conversation.last_message_at is None or at > conversation.last_message_at:
            updates["last_message_at"] = at
        updates["last_inbound_kind"] = message.kind
        updates["last_inbound_at"] = at
    # the contact writes, a journey asks for a person, or a message needs review: work for now
    if (message is not None or handoff or review_reason) and conversation.status in (S.PENDING, S.SNOOZED):
        _status_apply(conversation, S.OPEN, at=now, actor=actor, snoozed_until=None)
    if priority and PRIORITY_RANK[priority] > PRIORITY_RANK[conversation.priority]:
        updates["priority"] = priority
    moved_from = None
    if queue is not None and queue.pk != conversation.queue_id and conversation.assignee_id is None:
        moved_from = conversation.queue_id
        updates["queue"] = queue
        updates.update(
            _sla_fields(Conversation(workspace=workspace, queue=queue), settings, conversation.opened_at)
        )
    if handoff:
        updates.update(
            handoff_journey_id=handoff.get("journey_id"),
            handoff_enrollment_id=handoff.get("enrollment_id"),
            handoff_node=str(handoff.get("node") or "")[:64],
        )
    if review_reason:
        updates.update(needs_review=True, review_reason=review_reason[:300])
    if updates:
        for name, value in updates.items():
            setattr(conversation, name, value)
        conversation.save(update_fields=[*updates, "updated_at"])
    if moved_from:
        entry_add(
            conversation,
            Entry.Kind.TRANSFERRED,
            at=now,
            author=_user(actor),
            data={"from_queue": moved_from, "to_queue": conversation.queue_id, "by": actor.label},
        )
    if handoff:
        entry_add(
            conversation,
            Entry.Kind.HANDED_OFF,
            at=now,
            body=str(handoff.get("note") or "")[:1000],
            data={
                "journey_id": handoff.get("journey_id"),
                "enrollment_id": handoff.get("enrollment_id"),
                "node": handoff.get("node") or "",
                "queue": conversation.queue.name,
                "priority": handoff.get("priority") or "",
            },
        )
    if review_reason:
        entry_add(conversation, Entry.Kind.FLAGGED_FOR_REVIEW, at=now, body=review_reason[:300])
    if opened:
        audit_record(
            workspace=workspace,
            actor=actor,
            action=f"inbox.conversation.{'opened' if created else 'reopened'}",
            target=conversation,
            data={
                "queue": conversation.queue.name,
                "by": "handoff" if handoff else "message" if message else "agent",
            },
            at=now,
        )
    if conversation.assignee_id is None and conversation.status == S.OPEN:
        assignment.drain(workspace=workspace, queue_ids=[conversation.queue_id], now=now)
        conversation.refresh_from_db(fields=["assignee", "assigned_at"])
    what = "opened" if opened else "message" if message is not None else "updated"
    live.conversation_changed(
        conversation,
        what,
        also_queues=[moved_from] if moved_from else (),
        message_id=getattr(message, "pk", None),
    )
    return conversation, bool(opened)


def _find_or_open(workspace, contact, settings, queue, now) -> tuple[Conversation, str]:
    """(conversation, "created" | "reopened" | "") with its row locked."""
    for _attempt in range(3):
        current = (
            Conversation.objects.filter(workspace=workspace, contact=contact)
            .exclude(status=S.RESOLVED)
            .first()
        )
        if current is not None:
            return lock_refresh(current), ""
        recent = (
            Conversation.objects.filter(
                workspace=workspace, contact=contact, status=S.RESOLVED, resolved_at__gte=now - REOPEN_WITHIN
            )
            .order_by("-resolved_at", "-pk")
            .first()
        )
        try:
            with transaction.atomic():
                if recent is not None:
                    lock_refresh(recent)
                    if recent.status != S.RESOLVED:
                        continue
                    target_queue = queue or recent.queue
                    fields = {
                        "opened_at": now,
                        "resolved_at": None,
                        "first_response_at": None,
                        "disposition": "",
                        "snoozed_until": None,
                        "waiting_since": None,
                        "needs_review": False,
                        "review_reason": "",
                        "queue": target_queue,
                        "assignee": None,
                        "assigned_at": None,
                        **_sla_fields(Conversation(workspace=workspace, queue=target_queue), settings, now),
                    }
                    _status_apply(recent, S.OPEN, at=now, actor=None, **fields)
                    return recent, "reopened"
                conversation = Conversation(
                    workspace=workspace,
                    contact=contact,
                    queue=queue or default_queue(workspace, settings),
                    opened_at=now,
                    created_at=now,
                )
                conversation.number = _next_number(workspace)
                for name, value in _sla_fields(conversation, settings, now).items():
                    setattr(conversation, name, value)
                conversation.save()
                entry_add(conversation, Entry.Kind.OPENED, at=now, data={"queue": conversation.queue.name})
                return conversation, "created"
        except IntegrityError:
            continue  # another transaction opened it first: take theirs
    raise RuntimeError(f"could not open a conversation for contact {contact.pk}")


# --- who works it -------------------------------------------------------------------------------------


def agent_check(workspace: Workspace, user, field: str = "assignee") -> None:
    """An assignee must be an active member of the workspace whose role may reply."""
    membership = Membership.objects.filter(workspace=workspace, user=user, is_active=True).first()
    if membership is None or not role_allows(membership.role, "inbox.reply"):
        raise ValidationError({field: [f"{_name(user)} is not an agent of this workspace."]})


def _assign(conversation, assignee, *, actor, at, kind, note, data=None) -> None:
    before = conversation.assignee_id
    conversation.assignee = assignee
    conversation.assigned_at = at if assignee is not None else None
    conversation.save(update_fields=["assignee", "assigned_at", "updated_at"])
    entry_add(
        conversation,
        kind,
        at=at,
        author=_user(actor),
        body=note,
        data={
            "from": before,
            "to": getattr(assignee, "pk", None),
            "to_name": _name(assignee),
            **(data or {}),
        },
    )


@transaction.atomic
def conversation_assign(
    *, actor: Actor, conversation: Conversation, assignee, note: str = "", now: dt.datetime | None = None
) -> Conversation:
    """Give the conversation to `assignee` (None: unassign, back to the queue), with a note."""
    now = _when(now)
    lock_refresh(conversation)
    if assignee is not None:
        agent_check(conversation.workspace, assignee)
    if conversation.is_resolved:
        raise ValidationError({"conversation": ["This conversation is resolved: reopen it first."]})
    before = conversation.assignee_id
    if before == getattr(assignee, "pk", None):
        return conversation
    _assign(conversation, assignee, actor=actor, at=now, kind=Entry.Kind.ASSIGNED, note=note[:1000])
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.conversation.assigned",
        target=conversation,
        data={"from": before, "to": getattr(assignee, "pk", None)},
        at=now,
    )
    if before is not None:  # their capacity freed
        assignment.drain_for_agent(workspace=conversation.workspace, user_id=before, now=now)
    if assignee is None:
        assignment.drain(workspace=conversation.workspace, queue_ids=[conversation.queue_id], now=now)
    live.conversation_changed(conversation, "assigned", also_users=[before] if before else ())
    return conversation


@transaction.atomic
def conversation_claim(
    *, actor: Actor, conversation: Conversation, now: dt.datetime | None = None
) -> Conversation:
    """The acting agent takes an unassigned conversation; one already taken stays with its agent."""
    now = _when(now)
    user = _user(actor)
    if user is None:
        raise ValidationError({"assignee": ["Only a person can claim a conversation."]})
    agent_check(conversation.workspace, user, "conversation")
    lock_refresh(conversation)
    if conversation.assignee_id not in (None, user.pk):
        raise ValidationError({"conversation": [f"Already assigned to {_name(conversation.assignee)}."]})
    if conversation.is_resolved:
        raise ValidationError({"conversation": ["This conversation is resolved: reopen it first."]})
    if conversation.assignee_id == user.pk:
        return conversation
    _assign(
        conversation, user, actor=actor, at=now, kind=Entry.Kind.ASSIGNED, note="", data={"claimed": True}
    )
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.conversation.claimed",
        target=conversation,
        at=now,
    )
    live.conversation_changed(conversation, "assigned")
    return conversation


@transaction.atomic
def conversation_transfer(
    *,
    actor: Actor,
    conversation: Conversation,
    queue: Queue | None = None,
    assignee=None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Conversation:
    """Move the conversation to another queue and/or agent, with a note for them. A queue
    change without an agent puts it back in the new queue, unassigned."""
    now = _when(now)
    lock_refresh(conversation)
    if queue is None and assignee is None:
        raise ValidationError({"queue": ["Give a queue or an agent to transfer to."]})
    if queue is not None and queue.workspace_id != conversation.workspace_id:
        raise ValidationError({"queue": ["No such queue in this workspace."]})
    if assignee is not None:
        agent_check(conversation.workspace, assignee)
    if conversation.is_resolved:
        raise ValidationError({"conversation": ["This conversation is resolved: reopen it first."]})
    before_queue, before_user = conversation.queue_id, conversation.assignee_id
    data = {"from_queue": before_queue, "to_queue": (queue or conversation.queue).pk}
    if queue is not None and queue.pk != before_queue:
        conversation.queue = queue
        settings = inbox_settings_get(conversation.workspace)
        for name, value in _sla_fields(conversation, settings, conversation.opened_at).items():
            setattr(conversation, name, value)
        conversation.save(update_fields=["queue", "first_response_due_at", "resolution_due_at", "updated_at"])
    _assign(
        conversation, assignee, actor=actor, at=now, kind=Entry.Kind.TRANSFERRED, note=note[:1000], data=data
    )
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.conversation.transferred",
        target=conversation,
        data={**data, "from": before_user, "to": getattr(assignee, "pk", None)},
        at=now,
    )
    if before_user is not None and before_user != getattr(assignee, "pk", None):
        assignment.drain_for_agent(workspace=conversation.workspace, user_id=before_user, now=now)
    if conversation.assignee_id is None:
        assignment.drain(workspace=conversation.workspace, queue_ids=[conversation.queue_id], now=now)
    live.conversation_changed(
        conversation,
        "transferred",
        also_queues=[before_queue],
        also_users=[before_user] if before_user else (),
    )
    return conversation


# --- status, priority -----------------------------------------------------------------------------------


@transaction.atomic
def conversation_set_status(
    *,
    actor: Actor,
    conversation: Conversation,
    status: str,
    snoozed_until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Conversation:
    """Open, pending (waiting for the customer) or snoozed until a time (then open again).
    Resolving is `conversation_resolve`, which also tells the journey."""
    now = _when(now)
    if status not in (S.OPEN, S.PENDING, S.SNOOZED):
        raise ValidationError({"status": ["One of open, pending, snoozed (resolve to resolve)."]})
    if status == S.SNOOZED:
        if snoozed_until is None or timezone.is_naive(snoozed_until) or snoozed_until <= now:
            raise ValidationError({"snoozed_until": ["A time in the future, with its time zone."]})
    lock_refresh(conversation)
    before = conversation.status
    fields: dict = {"snoozed_until": snoozed_until if status == S.SNOOZED else None}
    if before == S.RESOLVED:  # reopened by an agent
        fields.update(resolved_at=None, disposition="", opened_at=now)
    try:
        with transaction.atomic():
            changed = _status_apply(conversation, status, at=now, actor=actor, **fields)
    except IntegrityError:
        raise ValidationError(
            {"status": ["The contact has another conversation open: reopen that one instead."]}
        ) from None
    if not changed:
        if before == status and status == S.SNOOZED:  # a new snooze time
            Conversation.objects.filter(pk=conversation.pk).update(
                snoozed_until=snoozed_until, updated_at=now
            )
            conversation.snoozed_until = snoozed_until
        elif before != status:
            raise ValidationError({"status": [f"A {before} conversation cannot become {status}."]})
        else:
            return conversation
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.conversation.status",
        target=conversation,
        data={"from": before, "to": status, "until": snoozed_until.isoformat() if snoozed_until else None},
        at=now,
    )
    live.conversation_changed(conversation, "status")
    return conversation


@transaction.atomic
def conversation_set_priority(
    *, actor: Actor, conversation: Conversation, priority: str, now: dt.datetime | None = None
) -> Conversation:
    now = _when(now)
    if priority not in Priority.values:
        raise ValidationError({"priority": [f"One of: {', '.join(Priority.values)}."]})
    lock_refresh(conversation)
    before = conversation.priority
    if before == priority:
        return conversation
    conversation.priority = priority
    conversation.save(update_fields=["priority", "updated_at"])
    entry_add(
        conversation,
        Entry.Kind.PRIORITY_CHANGED,
        at=now,
        author=_user(actor),
        data={"from": before, "to": priority},
    )
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.conversation.priority",
        target=conversation,
        data={"from": before, "to": priority},
        at=now,
    )
    live.conversation_changed(conversation, "priority")
    return conversation


# --- resolve, return to the journey --------------------------------------------------------------------


def _resolve(conversation: Conversation, *, actor: Actor, disposition: str, now, returned: bool) -> None:
    if disposition and disposition not in Conversation.Disposition.values:
        raise ValidationError({"disposition": [f"One of: {', '.join(Conversation.Disposition.values)}."]})
    lock_refresh(conversation)
    if conversation.is_resolved:
        raise ValidationError({"conversation": ["This conversation is already resolved."]})
    before_user = conversation.assignee_id
    _status_apply(
        conversation,
        S.RESOLVED,
        at=now,
        actor=actor,
        resolved_at=now,
        disposition=disposition,
        snoozed_until=None,
        waiting_since=None,
        needs_review=False,
    )
    # a journey's hand-off waiting for the agent resumes on this event ("resolved" exit)
    event_record(
        workspace=conversation.workspace,
        contact=conversation.contact,
        name=RESOLVED_EVENT,
        properties={
            "conversation_id": conversation.pk,
            "number": conversation.number,
            "queue": conversation.queue.name,
            "disposition": disposition,
            "returned": returned,
            "enrollment_id": conversation.handoff_enrollment_id,
        },
        occurred_at=now,
        source="inbox",
        now=now,
    )
    if before_user is not None:
        assignment.drain_for_agent(workspace=conversation.workspace, user_id=before_user, now=now)


@transaction.atomic
def conversation_resolve(
    *,
    actor: Actor,
    conversation: Conversation,
    disposition: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> Conversation:
    """Resolve with an optional disposition code (paid, promised, dispute, hardship,
    wrong_number, vulnerable) and note. Records `conversation.resolved`, on which a journey's
    hand-off that waits for the agent resumes; the agent's capacity goes to the next waiting."""
    now = _when(now)
    _resolve(conversation, actor=actor, disposition=disposition, now=now, returned=False)
    if note.strip():
        entry_add(conversation, Entry.Kind.NOTE, at=now, author=_user(actor), body=note.strip()[:5000])
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.conversation.resolved",
        target=conversation,
        data={"disposition": disposition},
        at=now,
    )
    live.conversation_changed(conversation, "resolved")
    return conversation


def waiting_enrollment(conversation: Conversation):
    """The enrolment whose hand-off still waits for this conversation, or None."""
    from journeys.models import Enrollment

    if not conversation.handoff_enrollment_id:
        return None
    return Enrollment.objects.filter(
        pk=conversation.handoff_enrollment_id,
        contact_id=conversation.contact_id,
        status=Enrollment.Status.WAITING,
        wait_event=RESOLVED_EVENT,
    ).first()


@transaction.atomic
def conversation_return_to_journey(
    *, actor: Actor, conversation: Conversation, note: str = "", now: dt.datetime | None = None
) -> Conversation:
    """Hand the contact back to the journey that handed them off: the hand-off node's waiting
    exit ("resolved") resumes, and the conversation is resolved."""
    now = _when(now)
    enrollment = waiting_enrollment(conversation)
    if enrollment is None:
        raise ValidationError(
            {
                "conversation": [
                    "No journey is waiting for this conversation (its hand-off continued at once, "
                    "timed out or ended): resolve it instead."
                ]
            }
        )
    entry_add(
        conversation,
        Entry.Kind.RETURNED_TO_JOURNEY,
        at=now,
        author=_user(actor),
        body=note.strip()[:1000],
        data={"journey_id": enrollment.journey_id, "enrollment_id": enrollment.pk, "node": enrollment.node},
    )
    _resolve(conversation, actor=actor, disposition="", now=now, returned=True)
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.conversation.returned_to_journey",
        target=conversation,
        data={"journey_id": enrollment.journey_id, "enrollment_id": enrollment.pk},
        at=now,
    )
    live.conversation_changed(conversation, "resolved", returned=True)
    return conversation


# --- notes, read markers -----------------------------------------------------------------------------------

MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


@transaction.atomic
def note_add(*, actor: Actor, conversation: Conversation, body: str, now: dt.datetime | None = None) -> Entry:
    """A private note (never sent to the contact). `@username` mentions an agent of the
    workspace, who is told live."""
    now = _when(now)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": ["Write the note."]})
    if len(body) > 5000:
        raise ValidationError({"body": ["At most 5,000 characters."]})
    names = {m.rstrip(".") for m in MENTION.findall(body)}
    mentioned = []
    if names:
        User = get_user_model()
        candidates = User.objects.filter(
            **{f"{User.USERNAME_FIELD}__in": names},
            memberships__workspace=conversation.workspace,
            memberships__is_active=True,
        ).distinct()
        mentioned = [
            u
            for u in candidates
            if role_allows(u.memberships.get(workspace=conversation.workspace).role, "inbox.view")
        ]
    entry = entry_add(conversation, Entry.Kind.NOTE, at=now, author=_user(actor), body=body)
    if mentioned:
        entry.mentions.set(mentioned)
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.note.added",
        target=conversation,
        data={"entry_id": entry.pk, "mentions": [u.pk for u in mentioned]},
        at=now,
    )
    live.conversation_changed(conversation, "note", entry_id=entry.pk)
    for user in mentioned:
        live.user_notified(
            conversation.workspace_id,
            user.pk,
            {"type": "inbox.mention", "conversation_id": conversation.pk, "number": conversation.number,
             "entry_id": entry.pk, "by": actor.label},
        )  # fmt: skip
    return entry


def conversation_mark_read(*, user, conversation: Conversation, at: dt.datetime | None = None) -> ReadMarker:
    """`user` has read the conversation up to `at` (now): newer items are unread. Never moves back."""
    at = _when(at)
    marker, created = ReadMarker.objects.get_or_create(
        conversation=conversation, user=user, defaults={"last_read_at": at}
    )
    if not created and marker.last_read_at < at:
        ReadMarker.objects.filter(pk=marker.pk, last_read_at__lt=at).update(last_read_at=at)
        marker.last_read_at = at
    return marker


# --- the worker's sweep ----------------------------------------------------------------------------------


def snoozed_wake(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Snoozed conversations whose time came are open again (and go to auto-assignment)."""
    now = _when(now)
    woken = 0
    due = list(
        Conversation.objects.filter(status=S.SNOOZED, snoozed_until__lte=now)
        .order_by("snoozed_until")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if conversation is None or conversation.status != S.SNOOZED:
                continue
            _status_apply(conversation, S.OPEN, at=now, actor=None, snoozed_until=None)
            if conversation.assignee_id is None:
                assignment.drain(workspace=conversation.workspace, queue_ids=[conversation.queue_id], now=now)
            live.conversation_changed(conversation, "status")
            woken += 1
    return woken
