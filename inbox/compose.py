"""The composer's side of the inbox page: which channels a reply may take (the customer's last
inbound one first), the consent verdict on a draft before it is sent (reply_preview), the
WhatsApp templates offered outside the 24-hour window, canned replies with merge fields, media
by URL on rich channels, the collision check, scheduled replies and retries.

Every reply goes out through inbox.services.reply_send (the one send pipeline, as a person's
send; a scheduled one is stored deferred until its time); this module reads the form and says
what the agent would see."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from channels_app.addresses import contact_address
from channels_app.consent_gate import message_words
from channels_app.models import Channel, Message
from channels_app.providers import get_provider
from channels_app.services.channels import channel_templates
from contacts.models import ChannelKind
from journeys import merge

from . import services
from .models import CannedReply, Conversation, Reply

COLLISION_WINDOW = dt.timedelta(minutes=10)


@dataclass
class ChannelOption:
    kind: str
    label: str
    rich: bool  # media by URL
    templates: bool


@dataclass
class Verdict:
    outcome: str  # allow | defer | deny
    reason: str = ""
    rule: str = ""
    free_text: bool = True  # False outside the WhatsApp window: a template only
    template_outcome: str = ""  # the verdict on a template, when free text may not go
    defer_until: dt.datetime | None = None
    kind: str = ""


@dataclass
class Result:
    message: Message | None = None
    collision: str = ""
    toast: tuple[str, str] = ("", "info")
    extra: list = field(default_factory=list)


def whatsapp_templates(conversation: Conversation) -> list:
    """What may open the conversation outside the 24-hour window: the WhatsApp channel's approved
    templates, as its provider lists them."""
    return channel_templates(workspace=conversation.workspace, kind=ChannelKind.WHATSAPP)


def channel_options(conversation: Conversation) -> list[ChannelOption]:
    """Kinds with an active channel and an address for the contact; the last inbound kind first."""
    contact = conversation.contact
    seen: dict[str, Channel] = {}
    for channel in Channel.objects.filter(
        workspace_id=conversation.workspace_id, status=Channel.Status.ACTIVE
    ).order_by("pk"):
        if channel.kind not in seen and contact_address(contact, channel.kind):
            seen[channel.kind] = channel
    labels = dict(ChannelKind.choices)
    options = []
    for kind, channel in seen.items():
        caps = get_provider(channel.provider).capabilities(kind)
        options.append(
            ChannelOption(kind=kind, label=labels.get(kind, kind), rich=caps.media, templates=caps.template)
        )
    first = conversation.last_inbound_kind or contact.preferred_channel
    options.sort(key=lambda o: (o.kind != first, list(seen).index(o.kind)))
    return options


def composer_context(*, conversation: Conversation) -> dict:
    options = channel_options(conversation)
    contact = conversation.contact
    templates = [
        {
            "name": t.name,
            "language": t.language,
            "category": t.category,
            "body": t.body,
            "fields": [
                (key, label, merge.render(default, contact=contact)) for key, label, default in t.variables
            ],
        }
        for t in whatsapp_templates(conversation)
    ]
    return {
        "channel_options": options,
        "templates": templates,
        "contact_tz": contact.effective_timezone(),
        "verdict": reply_verdict(
            conversation=conversation, channel=options[0].kind if options else "", now=timezone.now()
        ),
    }


def reply_verdict(*, conversation: Conversation, channel: str, now: dt.datetime) -> Verdict:
    """Would a reply on `channel` go now? services.reply_preview asks consent and sends nothing.
    Outside the WhatsApp window free text is refused: the verdict then says whether a template
    would go instead."""
    kinds = [o.kind for o in channel_options(conversation)]
    if not kinds:
        return Verdict(
            outcome="deny", reason=f"{conversation.contact.display_name} has no address on an active channel."
        )
    kind = channel if channel in kinds else kinds[0]
    preview = services.reply_preview(conversation=conversation, channel_kind=kind, now=now)
    verdict = Verdict(
        outcome=preview.outcome,
        reason=preview.reason,
        rule=preview.rule,
        defer_until=preview.defer_until,
        kind=kind,
    )
    if preview.template_required:
        verdict.free_text = False
        template = services.reply_preview(
            conversation=conversation, channel_kind=kind, is_template=True, now=now
        )
        verdict.template_outcome = template.outcome
        if template.outcome != "allow":
            verdict.reason = f"{preview.reason} A template would not go either: {template.reason}"
    return verdict


def canned_matches(*, conversation: Conversation, query: str, agent) -> list[dict]:
    qs = CannedReply.objects.filter(
        workspace_id=conversation.workspace_id, shortcut__startswith=query.strip().lower()
    )
    return [
        {
            "shortcut": c.shortcut,
            "body": services.canned_reply_render(canned=c, contact=conversation.contact, agent=agent),
        }
        for c in qs.order_by("shortcut")[:8]
    ]


def _fields(data, kind: str, options: list[ChannelOption], conversation: Conversation) -> dict:
    """reply_send's arguments from the composer's fields; errors name the field."""
    template_name = (data.get("template") or "").strip()
    if template_name:
        template = next((t for t in whatsapp_templates(conversation) if t.name == template_name), None)
        if template is None:
            raise ValidationError({"template": [f"Unknown template '{template_name}'."]})
        variables = {}
        for key, label, _default in template.variables:
            value = (data.get(f"var_{template_name}_{key}") or "").strip()
            if not value:
                raise ValidationError(
                    {f"var_{key}": [f"The template needs its {label.lower()} ({{{{{key}}}}})."]}
                )
            variables[key] = value
        # the text is what the thread shows, and what a channel without templates would send
        return {"template": template.name, "variables": variables, "text": template.filled(variables)}
    media_url = (data.get("media_url") or "").strip()
    option = next((o for o in options if o.kind == kind), None)
    if media_url and not (option and option.rich):
        raise ValidationError({"media_url": [f"{kind} cannot carry media: put the link in the text."]})
    return {"text": data.get("text") or "", "media_url": media_url}


def send_at(value: str, tz_name: str, now: dt.datetime) -> dt.datetime | None:
    """ "2026-12-05T09:00" in the contact's time zone, as an aware date-time; None for empty."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        naive = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError({"send_at": ["A date and time, e.g. 2026-12-05 09:00."]}) from None
    if naive.tzinfo is not None:
        raise ValidationError(
            {"send_at": ["Give the time without an offset: it is the contact's local time."]}
        )
    at = naive.replace(tzinfo=zoneinfo.ZoneInfo(tz_name))
    if at <= now:
        raise ValidationError({"send_at": [f"{value} in {tz_name} has passed."]})
    return at


def collision(*, conversation: Conversation, user, seen_at: str, now: dt.datetime) -> str:
    """Another agent replied after the newest item this agent's page showed: warn before sending."""
    from django.utils.dateparse import parse_datetime

    seen = parse_datetime(seen_at or "") or (now - COLLISION_WINDOW)
    other = (
        Reply.objects.filter(conversation=conversation, created_at__gt=seen)
        .exclude(author=user)
        .select_related("author")
        .order_by("-created_at")
        .first()
    )
    if other is None:
        return ""
    name = other.author.get_username() if other.author else "Another agent"
    seconds = max(1, int((now - other.created_at).total_seconds()))
    return f"{name} replied {seconds} s ago. Read their reply before you send yours."


@transaction.atomic
def reply_from_form(*, conversation: Conversation, actor, data, now: dt.datetime) -> Result:
    options = channel_options(conversation)
    kind = data.get("channel") or (options[0].kind if options else "")
    if kind not in {o.kind for o in options}:
        raise ValidationError({"channel": [f"No {kind or 'channel'} address for this contact."]})
    fields = _fields(data, kind, options, conversation)
    tz_name = conversation.contact.effective_timezone()
    when = send_at(data.get("send_at", ""), tz_name, now)
    if data.get("confirm") != "1":
        warning = collision(
            conversation=conversation, user=actor.user, seen_at=data.get("seen_at", ""), now=now
        )
        if warning:
            return Result(collision=warning)
    message = services.reply_send(
        actor=actor, conversation=conversation, channel_kind=kind, send_at=when, now=now, **fields
    )
    return Result(message=message, toast=_toast(message, when, tz_name))


def _toast(message: Message, when, tz_name: str) -> tuple[str, str]:
    S = Message.Status
    if message.status == S.BLOCKED:
        return message_words(message, tz=timezone.get_current_timezone()).text, "error"
    if message.status == S.DEFERRED and when is not None and message.due_at == when:
        return (
            f"Scheduled for {when.astimezone(zoneinfo.ZoneInfo(tz_name)):%a %d %b %H:%M} their time.",
            "success",
        )
    if message.status == S.DEFERRED:
        words = message_words(message, tz=timezone.get_current_timezone())
        return (
            words.text if words else f"Deferred until {timezone.localtime(message.due_at):%H:%M}."
        ), "info"
    return "Sent to the dispatcher.", "success"
