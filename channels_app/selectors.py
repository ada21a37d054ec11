"""Reads for the messaging core. Every selector takes the workspace first."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from contacts.models import ChannelKind, Contact
from cpaas.models import Workspace

from .addresses import contact_address
from .models import Channel, Message, MessageStatusEvent, SandboxDelivery, Verification
from .providers import simulator_providers

MESSAGE_FILTERS = (
    "channel",
    "kind",
    "status",
    "contact",
    "purpose",
    "direction",
    "date_from",
    "date_to",
    "q",
)
SIMULATOR_HISTORY = 60


def message_list(*, workspace: Workspace, filters: dict | None = None) -> QuerySet[Message]:
    """Messages of the workspace, newest first, narrowed by `filters`: channel (id), kind,
    status, contact (id), purpose, direction (in/out), date_from / date_to (dates, in the
    workspace's zone, inclusive), q (text contains)."""
    filters = filters or {}
    qs = Message.objects.filter(workspace=workspace)
    for key, field in (
        ("channel", "channel_id"),
        ("kind", "kind"),
        ("status", "status"),
        ("contact", "contact_id"),
        ("purpose", "purpose"),
        ("direction", "direction"),
    ):
        if filters.get(key) not in (None, ""):
            qs = qs.filter(**{field: filters[key]})
    zone = _zone(workspace)
    if filters.get("date_from"):
        qs = qs.filter(created_at__gte=dt.datetime.combine(filters["date_from"], dt.time.min, zone))
    if filters.get("date_to"):
        qs = qs.filter(
            created_at__lt=dt.datetime.combine(filters["date_to"] + dt.timedelta(days=1), dt.time.min, zone)
        )
    if filters.get("q"):
        qs = qs.filter(text__icontains=filters["q"])
    return qs.order_by("-created_at", "-id")


def _zone(workspace: Workspace):
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(workspace.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def message_get(*, workspace: Workspace, pk) -> Message:
    return Message.objects.select_related("contact", "channel", "fallback_of", "fallback", "reply_to").get(
        workspace=workspace, pk=pk
    )


def message_chain(*, workspace: Workspace, message: Message) -> list[Message]:
    """Every attempt of the message's fallback chain, first to last."""
    first_id = message.first_attempt_id or message.pk
    return list(Message.objects.filter(workspace=workspace, pk=first_id).select_related("channel")) + list(
        Message.objects.filter(workspace=workspace, first_attempt_id=first_id)
        .select_related("channel")
        .order_by("created_at", "id")
    )


def message_history(*, workspace: Workspace, message: Message) -> list[MessageStatusEvent]:
    """Every status change, oldest first. The hot paths keep "queued" (created_at) and a bulk
    "sent" (sent_at) on the message row rather than as event rows; they are put back here."""
    events = list(
        MessageStatusEvent.objects.filter(message__workspace=workspace, message=message).order_by("at", "id")
    )
    synthetic = []
    if message.is_outbound and not any(
        e.status == Message.Status.QUEUED and e.source == "send" for e in events
    ):
        synthetic.append(
            MessageStatusEvent(
                message=message,
                status=Message.Status.QUEUED,
                at=message.created_at,
                source="send",
                detail=f"via {message.channel.name}",
            )
        )
    if message.sent_at and not any(
        e.status == Message.Status.SENT and e.source == "dispatcher" for e in events
    ):
        synthetic.append(
            MessageStatusEvent(
                message=message,
                status=Message.Status.SENT,
                at=message.sent_at,
                source="dispatcher",
                detail=f"accepted by {message.channel.provider}",
            )
        )
    if synthetic:
        order = {"send": 0, "consent": 1, "dispatcher": 2}  # same instant: the send comes first
        events = sorted(events + synthetic, key=lambda e: (e.at, order.get(e.source, 3), e.pk or 0))
    return events


def channel_list(*, workspace: Workspace) -> QuerySet[Channel]:
    return Channel.objects.filter(workspace=workspace).order_by("kind", "name")


def channel_template_list(*, channel: Channel) -> QuerySet:
    from .models import ChannelTemplate

    return ChannelTemplate.objects.filter(channel=channel).order_by("name", "language")


def channel_get(*, workspace: Workspace, pk) -> Channel:
    return Channel.objects.get(workspace=workspace, pk=pk)


def simulator_contacts(*, workspace: Workspace, limit: int = 100) -> list[Contact]:
    return list(Contact.objects.filter(workspace=workspace).order_by("-updated_at", "-id")[:limit])


def simulator_phones(*, workspace: Workspace, contact: Contact) -> list[dict]:
    """A phone per channel kind: its sandbox channel, the contact's address on it and the last
    messages the phone shows (what reached it and what the contact sent), oldest first."""
    channels = {}
    for channel in Channel.objects.filter(
        workspace=workspace, provider__in=simulator_providers(), status=Channel.Status.ACTIVE
    ).order_by("pk"):
        channels.setdefault(channel.kind, channel)
    shown = (
        Message.objects.filter(
            workspace=workspace, contact=contact, channel__provider__in=simulator_providers()
        )
        .exclude(direction=Message.Direction.OUTBOUND, sent_at__isnull=True)
        .order_by("-created_at", "-id")[: SIMULATOR_HISTORY * 4]
    )
    by_kind: dict[str, list[Message]] = {}
    shown = list(shown)
    _as_received(shown)
    for message in shown:
        by_kind.setdefault(message.kind, []).append(message)
    return [
        {
            "kind": kind,
            "label": label,
            "channel": channels.get(kind),
            "address": contact_address(contact, kind),
            "messages": list(reversed(by_kind.get(kind, [])[:SIMULATOR_HISTORY])),
        }
        for kind, label in ChannelKind.choices
    ]


def phone_messages(*, workspace: Workspace, contact: Contact, since=None, limit: int = 30) -> list[Message]:
    """One phone for every channel (the editor's test-run panel): the contact's messages both
    ways, oldest first, as the phone received them, including those not sent (blocked,
    deferred, queued) so the panel can say why."""
    qs = Message.objects.filter(workspace=workspace, contact=contact)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    messages = list(qs.order_by("-created_at", "-id")[:limit])
    _as_received(messages)
    return messages[::-1]


def _as_received(messages: list[Message]) -> None:
    """The phone shows what the sandbox received, which holds an OTP code that our stored
    message only holds masked (channels_app/sealing.py)."""
    outbound = {m.reference: m for m in messages if m.direction == Message.Direction.OUTBOUND}
    if not outbound:
        return
    received = SandboxDelivery.objects.filter(
        channel_id__in={m.channel_id for m in outbound.values()}, reference__in=list(outbound)
    ).values_list("reference", "content")
    for reference, content in received:
        m = outbound[reference]
        if content != m.content:
            m.content = content
            m.text = content.get("text") or content.get("email", {}).get("body") or m.text


def verification_list(*, workspace: Workspace) -> QuerySet[Verification]:
    return (
        Verification.objects.filter(workspace=workspace)
        .select_related("contact")
        .order_by("-created_at", "-id")
    )


def verification_get(*, workspace: Workspace, pk) -> Verification:
    return Verification.objects.select_related("contact").get(workspace=workspace, pk=pk)


def dispatch_backlog(*, now: dt.datetime) -> tuple[int, float]:
    """Across every workspace: how many queued messages are due now and how long the oldest has
    waited for the dispatcher, in seconds (`/readyz` and the metrics; cpaas.health). A channel's
    rate limit holds messages back on purpose: a big campaign on a slow channel ages its backlog."""
    from django.db.models import Count, Min

    row = Message.objects.filter(status=Message.Status.QUEUED, due_at__lte=now).aggregate(
        n=Count("id"), oldest=Min("due_at")
    )
    age = max(0.0, (now - row["oldest"]).total_seconds()) if row["oldest"] else 0.0
    return row["n"], round(age, 3)
