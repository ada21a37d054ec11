"""The inbox's reads, workspace first. Who sees what:

- a person with `inbox.supervise` (admins) and an API token (a workspace credential) see every
  conversation of the workspace;
- an agent sees the conversations of the queues they are a member of, and those assigned to
  them; any other conversation is not found (404), like another workspace's.

`Viewer` carries that decision from the request to every selector, so pages, API and realtime
(`inbox.live.topics_for`) answer the same."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from channels_app.models import Message
from contacts.models import ChannelKind, Contact
from contacts.selectors import _as_phone
from cpaas.models import ApiToken, Workspace
from cpaas.roles import role_allows

from . import sla
from .models import PRIORITY_RANK, CannedReply, Conversation, Entry, Queue, QueueMember, ReadMarker, Reply

S = Conversation.Status


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a user (with their role in the workspace) or an API token (user None)."""

    workspace: Workspace
    user: object | None
    sees_all: bool

    @classmethod
    def for_member(cls, workspace: Workspace, user, role: str) -> Viewer:
        return cls(workspace, user, role_allows(role, "inbox.supervise"))

    @classmethod
    def from_request(cls, request) -> Viewer:
        """Pages and API views: the token sees the workspace; a user sees by role."""
        if isinstance(getattr(request, "auth", None), ApiToken):
            return cls(request.workspace, None, True)
        return cls.for_member(request.workspace, request.user, request.role)


def visible_queues(viewer: Viewer) -> QuerySet[Queue]:
    queues = Queue.objects.filter(workspace=viewer.workspace)
    if viewer.sees_all:
        return queues
    return queues.filter(memberships__user=viewer.user)


def visible_conversations(viewer: Viewer) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(workspace=viewer.workspace)
    if viewer.sees_all:
        return conversations
    member_of = QueueMember.objects.filter(user=viewer.user, queue__workspace=viewer.workspace).values(
        "queue_id"
    )
    return conversations.filter(Q(queue_id__in=Subquery(member_of)) | Q(assignee=viewer.user))


def conversation_get(viewer: Viewer, conversation_id) -> Conversation:
    """The conversation if the viewer may see it, else Http404 (the same answer as for an id
    of another workspace)."""
    try:
        pk = int(conversation_id)
    except (TypeError, ValueError):
        raise Http404("No such conversation.") from None
    conversation = (
        visible_conversations(viewer)
        .select_related("contact", "queue", "assignee", "workspace")
        .filter(pk=pk)
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def conversation_by_number(viewer: Viewer, number) -> Conversation:
    """The conversation #number if the viewer may see it, else Http404 (pages and the API name
    conversations by their number)."""
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise Http404("No such conversation.") from None
    conversation = (
        visible_conversations(viewer)
        .select_related("contact", "queue", "assignee", "workspace")
        .filter(number=number)
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def contact_conversation(viewer: Viewer, contact: Contact) -> Conversation | None:
    """The newest conversation with `contact` the viewer may see (how an agent reaches a contact)."""
    return visible_conversations(viewer).filter(contact=contact).order_by("-opened_at", "-pk").first()


def contact_visible(viewer: Viewer, contact_id) -> bool:
    """May the viewer open this contact? Everyone but agents may (their role's permissions
    decide); an agent only through a conversation they see, unless the workspace opens all
    contacts to agents (`Workspace.contacts_open_to_agents`)."""
    if viewer.sees_all or viewer.workspace.contacts_open_to_agents:
        return True
    return visible_conversations(viewer).filter(contact_id=contact_id).exists()


# --- the list ----------------------------------------------------------------------------------------

FILTERS = (
    "mine",
    "mentions",
    "unassigned",
    "queue",
    "status",
    "channel",
    "priority",
    "breached",
    "q",
    "needs_review",
)
SORTS = {"waiting": ("waiting_since", "opened_at", "pk"), "recent": ("-last_message_at", "-pk"),
         "newest": ("-opened_at", "-pk"), "priority": None}  # fmt: skip


def conversation_list(
    viewer: Viewer, *, filters: dict | None = None, sort: str = "waiting", now: dt.datetime | None = None
) -> QuerySet[Conversation]:
    """The viewer's conversations, filtered:

    - `status`: open / pending / snoozed / resolved, or "active" (default: all but resolved);
    - `mine`: assigned to the viewer; `unassigned`: to nobody; `mentions`: a note mentions them;
    - `queue`: a queue id; `channel`: the last inbound message's channel kind;
    - `priority`; `breached`: an SLA missed (inbox.sla.breached); `needs_review`;
    - `q`: words in the contact's name, phone or email, the conversation's number (#12 or 12),
      or the text of the contact's inbound messages and agents' replies (SEARCHED_MESSAGES).

    Sorted by longest waiting (default; conversations nobody waits on last), most recent
    message, newest, or priority then waiting."""
    filters = filters or {}
    now = now or timezone.now()
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: [f"Unknown filter; use {', '.join(FILTERS)}."]})
    qs = visible_conversations(viewer)
    status = filters.get("status") or "active"
    if status == "active":
        qs = qs.exclude(status=S.RESOLVED)
    elif status in S.values:
        qs = qs.filter(status=status)
    elif status != "all":
        raise ValidationError({"status": [f"One of active, all, {', '.join(S.values)}."]})
    if filters.get("mine"):
        if viewer.user is None:
            raise ValidationError({"mine": ["An API token has no conversations of its own."]})
        qs = qs.filter(assignee=viewer.user)
    if filters.get("unassigned"):
        qs = qs.filter(assignee__isnull=True)
    if filters.get("mentions"):  # a private note names the viewer (@username)
        if viewer.user is None:
            raise ValidationError({"mentions": ["An API token is never mentioned."]})
        qs = qs.filter(Exists(Entry.objects.filter(conversation=OuterRef("pk"), mentions=viewer.user)))
    if filters.get("queue") not in (None, ""):
        try:
            qs = qs.filter(queue_id=int(filters["queue"]))
        except (TypeError, ValueError):
            raise ValidationError({"queue": ["A queue id."]}) from None
    if filters.get("channel"):
        if filters["channel"] not in ChannelKind.values:
            raise ValidationError({"channel": [f"One of: {', '.join(ChannelKind.values)}."]})
        qs = qs.filter(last_inbound_kind=filters["channel"])
    if filters.get("priority"):
        if filters["priority"] not in PRIORITY_RANK:
            raise ValidationError({"priority": [f"One of: {', '.join(PRIORITY_RANK)}."]})
        qs = qs.filter(priority=filters["priority"])
    if filters.get("breached"):
        qs = qs.filter(sla.breached(now))
    if filters.get("needs_review"):
        qs = qs.filter(needs_review=True)
    words = (filters.get("q") or "").strip()
    if words:
        qs = qs.filter(_search(viewer.workspace, words))
    if sort not in SORTS:
        raise ValidationError({"sort": [f"One of: {', '.join(SORTS)}."]})
    if sort == "priority":
        from .assignment import PRIORITY_ORDER

        return qs.annotate(rank=PRIORITY_ORDER).order_by("-rank", "waiting_since", "pk")
    if sort == "waiting":
        return qs.order_by(F("waiting_since").asc(nulls_last=True), "opened_at", "pk")
    return qs.order_by(*SORTS[sort])


def _search(workspace: Workspace, words: str) -> Q:
    if words.startswith("#") and words[1:].isdigit() and len(words) <= 10:
        # "#12" names a conversation: one indexed lookup. Also looking through every message's
        # text for "#12" cost 2 s over 1,000,000 messages when no open conversation had it
        # (bench/inbox.py), for matches nobody asked for.
        return Q(number=int(words[1:]))
    number = words.lstrip("#")
    named = (
        Q(first_name__icontains=words)
        | Q(last_name__icontains=words)
        | Q(email__icontains=words)
        | Q(phone__icontains=words.replace(" ", ""))
    )
    first, _, last = words.partition(" ")
    if last.strip():  # "nia okafor": first and last name
        named |= Q(first_name__icontains=first, last_name__icontains=last.strip())
    phone = _as_phone(words, workspace.default_country)  # "07911 123456", written nationally
    if phone:
        named |= Q(phone=phone)
    # The matching contacts as a subquery, not conditions on the joined row: on PostgreSQL each
    # condition has its trigram index (inbox migration 0003), so the contacts are found by index
    # and the conversations checked against them, instead of every row read and compared.
    q = Q(contact_id__in=Contact.objects.filter(named, workspace=workspace).values("pk"))
    if number.isdigit() and len(number) <= 9:
        q |= Q(number=int(number))
    # What the contact and the agents wrote, not the journeys' automated sends (most of the
    # table, and nothing an agent looks for): the partial trigram index holds only these rows.
    said = Message.objects.filter(SEARCHED_MESSAGES, workspace=workspace, text__icontains=words)
    if connection.vendor == "postgresql":
        # The trigram index finds a rare word's messages at once, but a word in half the
        # messages costs reading them all, and `LIKE '%word%'` gives the planner no estimate.
        # So ask the index for a few: fewer than the probe, the contacts are known; more, the
        # word is common and each listed conversation's own messages are checked instead.
        found = list(said.values_list("contact_id", flat=True)[:SEARCH_PROBE])
        if len(found) < SEARCH_PROBE:
            return q | Q(contact_id__in=set(found))
    return q | Q(Exists(said.filter(contact_id=OuterRef("contact_id"))))


# The messages the inbox's search reads; the same condition as the partial index in
# inbox/migrations/0003 (PostgreSQL uses the index only for a query that implies it).
SEARCHED_MESSAGES = Q(direction="in") | Q(sent_by="person")
SEARCH_PROBE = 2000


def unread(viewer: Viewer, conversations) -> set[int]:
    """Ids of these conversations with a message newer than the viewer's read marker (two
    queries whatever their number)."""
    conversations = list(conversations)
    if viewer.user is None or not conversations:
        return set()
    marks = dict(
        ReadMarker.objects.filter(user=viewer.user, conversation__in=conversations).values_list(
            "conversation_id", "last_read_at"
        )
    )
    return {
        c.pk
        for c in conversations
        if c.last_message_at is not None and (c.pk not in marks or c.last_message_at > marks[c.pk])
    }


def unread_with_mentions(viewer: Viewer, conversations) -> tuple[set[int], set[int]]:
    """`unread`, and the ids with a note naming the viewer (@username) newer than their read
    marker: the list's "@ you" mark. Three queries whatever their number."""
    conversations = list(conversations)
    unread_ids = unread(viewer, conversations)
    if viewer.user is None or not conversations:
        return unread_ids, set()
    latest = (
        Entry.objects.filter(conversation__in=conversations, mentions=viewer.user)
        .values("conversation_id")
        .annotate(at=Max("created_at"))
        .filter(
            Q(at__gt=Subquery(
                ReadMarker.objects.filter(conversation_id=OuterRef("conversation_id"), user=viewer.user)
                .values("last_read_at")[:1]
            ))
            | ~Exists(ReadMarker.objects.filter(conversation_id=OuterRef("conversation_id"), user=viewer.user))
        )
    )  # fmt: skip
    return unread_ids, {row["conversation_id"] for row in latest}


# --- the thread -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One timeline item: a Message (kind "message") or an Entry (its kind)."""

    at: dt.datetime
    kind: str
    message: Message | None = None
    entry: Entry | None = None
    author: object | None = None  # the agent who sent a reply

    @property
    def key(self) -> str:
        return f"m{self.message.pk}" if self.message is not None else f"e{self.entry.pk}"


def timeline(
    workspace: Workspace,
    conversation: Conversation,
    *,
    before: dt.datetime | None = None,
    since: dt.datetime | None = None,
    limit: int = 50,
    viewer: Viewer | None = None,
) -> list[Item]:
    """The contact's whole history with the workspace as one thread, oldest first: every
    message (all channels, both directions, journeys', the API's and agents') merged by time
    with the activity entries and notes of all the contact's conversations. `before` pages
    back: the `limit` items just before that time (use the first item's `at`). `since` gives what
    was created or changed (a message's delivery state) after that time: the inbox page's live
    updates and its resync after a reconnect. With a `viewer`, the entries (notes, activity) of
    the contact's conversations in queues they cannot see are left out; messages all show."""
    if conversation.workspace_id != workspace.pk:
        raise Http404("No such conversation.")
    limit = max(1, min(int(limit), 200))
    messages = Message.objects.filter(workspace=workspace, contact_id=conversation.contact_id).select_related(
        "channel"
    )
    entries = (
        Entry.objects.filter(workspace=workspace, conversation__contact_id=conversation.contact_id)
        .select_related("author")
        .prefetch_related("mentions")
    )  # a note's "mentions you" mark
    if viewer is not None and not viewer.sees_all:
        entries = entries.filter(conversation__in=visible_conversations(viewer).values("pk"))
    if before is not None:
        messages = messages.filter(created_at__lt=before)
        entries = entries.filter(created_at__lt=before)
    if since is not None:
        messages = messages.filter(Q(created_at__gt=since) | Q(status_changed_at__gt=since))
        entries = entries.filter(created_at__gt=since)
    messages = list(messages.order_by("-created_at", "-pk")[:limit])
    entries = list(entries.order_by("-created_at", "-pk")[:limit])
    authors = {
        r.message_id: r.author for r in Reply.objects.filter(message__in=messages).select_related("author")
    }
    items = [Item(m.created_at, "message", message=m, author=authors.get(m.pk)) for m in messages]
    items += [Item(e.created_at, e.kind, entry=e, author=e.author) for e in entries]
    items.sort(key=lambda i: (i.at, 0 if i.message is not None else 1, i.key))
    return items[-limit:]


def conversations_of_contact(viewer: Viewer, contact_id) -> QuerySet[Conversation]:
    return visible_conversations(viewer).filter(contact_id=contact_id).order_by("-opened_at", "-pk")


def canned_replies(workspace: Workspace, prefix: str = "") -> QuerySet[CannedReply]:
    qs = CannedReply.objects.filter(workspace=workspace)
    return qs.filter(shortcut__startswith=prefix.lstrip("/").lower()) if prefix else qs


def queue_load(workspace: Workspace) -> list[dict]:
    """Per queue: open, unassigned and breached conversations, for the supervisor page."""
    now = timezone.now()
    rows = (
        Conversation.objects.filter(workspace=workspace)
        .exclude(status=S.RESOLVED)
        .values("queue_id")
        .annotate(
            open=Count("pk"),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            breached=Count("pk", filter=sla.breached(now)),
        )
    )
    by_queue = {r["queue_id"]: r for r in rows}
    return [
        {"queue": q, **{k: by_queue.get(q.pk, {}).get(k, 0) for k in ("open", "unassigned", "breached")}}
        for q in Queue.objects.filter(workspace=workspace)
    ]
