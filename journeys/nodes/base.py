"""What every node type module provides, and what its handler receives.

A node type is a subclass of `Node` in its own module: its `type`, label, icon and help text,
its config `schema` (JSON Schema: the field-level errors), extra checks that need the workspace
(`check`), its exits, the `form` the canvas editor renders, and its handler: `enter(run)` when a
contact arrives, `resume(run, signal)` when something it waits for happens. Handlers return an
`Outcome`; they never write to the database themselves (the engine does, in one transaction),
except through the small helpers on `Run`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

# --- outcomes -----------------------------------------------------------------------------------


@dataclass
class SendRequest:
    channel: Any  # "preferred", a kind, or a channel id
    content: dict
    purpose: str = "transactional"
    fallback: list[str] = field(default_factory=list)
    fallback_after_s: int | None = None
    options: dict = field(default_factory=dict)


@dataclass
class Outcome:
    kind: str  # "next" | "wait" | "send" | "end"
    exit: str = ""
    detail: dict = field(default_factory=dict)
    wait: str = ""  # timer | reply | event | webhook
    until: dt.datetime | None = None
    event: str = ""
    match: dict = field(default_factory=dict)
    status: str = ""  # for "end": completed | failed | goal
    reason: str = ""
    send: SendRequest | None = None


def go(exit: str = "next", **detail) -> Outcome:
    return Outcome("next", exit=exit, detail=detail)


def wait(kind: str, *, until=None, event: str = "", match: dict | None = None, **detail) -> Outcome:
    return Outcome("wait", wait=kind, until=until, event=event, match=match or {}, detail=detail)


def send(request: SendRequest, **detail) -> Outcome:
    """Send, then `resume(run, Signal("sent", {...}))` with the message (or why not)."""
    return Outcome("send", send=request, detail=detail)


def end(status: str = "completed", reason: str = "", **detail) -> Outcome:
    return Outcome("end", status=status, reason=reason, detail=detail)


def fail(reason: str, **detail) -> Outcome:
    return Outcome("end", status="failed", reason=reason[:300], detail=detail)


@dataclass
class Signal:
    kind: str  # sent | timeout | reply | event | webhook | resolved
    data: dict = field(default_factory=dict)


# --- schema pieces ------------------------------------------------------------------------------

LANG_TEXT = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"pattern": "^[a-z]{2}(-[A-Za-z]{2})?$"},
    "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4000},
}
EVENT_NAME = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[A-Za-z0-9_.:\-]+$"}
SECONDS = {"type": "integer", "minimum": 1, "maximum": 366 * 86400}
CHANNEL_SPEC = {
    "oneOf": [
        {
            "type": "string",
            "enum": ["preferred", "sms", "whatsapp", "rcs", "voice", "email", "viber", "messenger", "push"],
        },
        {"type": "integer", "minimum": 1},
    ]
}
KINDS = {"type": "string", "enum": ["sms", "whatsapp", "rcs", "voice", "email", "viber", "messenger", "push"]}
PURPOSE = {"type": "string", "minLength": 1, "maxLength": 32}
OPTION_LIST = {
    "type": "array",
    "maxItems": 10,
    "items": {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 20},
            {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "id": {"type": "string", "maxLength": 60},
                    "title": {"type": "string", "minLength": 1, "maxLength": 20},
                },
                "additionalProperties": False,
            },
        ]
    },
}
MESSAGE_PROPS = {
    "channel": CHANNEL_SPEC,
    "fallback": {"type": "array", "items": KINDS, "maxItems": 7},
    "fallback_after_s": {"type": "integer", "minimum": 1, "maximum": 7 * 86400},
    # "" is a new node's "not chosen yet" when its journey has no purpose: check_message asks
    "purpose": {"type": "string", "maxLength": 32},
    "template": LANG_TEXT,
    "buttons": OPTION_LIST,
    "quick_replies": OPTION_LIST,
    "media_url": {"type": "string", "pattern": "^https?://", "maxLength": 1000},
    # an approved WhatsApp template, "name|language" (channels_app ChannelTemplate), and its
    # values in order ({{1}}, {{2}}...; merge fields allowed)
    "wa_template": {"type": "string", "pattern": "^[^|]+\\|[^|]+$", "maxLength": 600},
    "wa_template_variables": {
        "type": "array",
        "items": {"type": "string", "maxLength": 1000},
        "maxItems": 20,
    },
}
MESSAGE_FORM = [
    {
        "name": "channel",
        "label": "Channel",
        "widget": "channel",
        "help": "One channel, or the contact's preferred one.",
    },
    {
        "name": "fallback",
        "label": "Fallback channels",
        "widget": "channel_list",
        "help": "Tried in order when a send fails or is not delivered in time.",
    },
    {"name": "fallback_after_s", "label": "Fall back after", "widget": "duration"},
    {
        "name": "purpose",
        "label": "Purpose",
        "widget": "select",
        "options": ["transactional", "marketing", "otp", "collections"],
    },
    {
        "name": "template",
        "label": "Text per language",
        "widget": "localized_text",
        "help": "Merge fields: {{contact.first_name|there}}, {{event.cart_id}}, {{context.var}}.",
    },
    {"name": "buttons", "label": "Buttons", "widget": "options", "row_label": "Button"},
    {"name": "quick_replies", "label": "Quick replies", "widget": "options", "row_label": "Quick reply"},
    {"name": "media_url", "label": "Media URL", "widget": "text"},
    {
        "name": "wa_template",
        "label": "WhatsApp template",
        "widget": "wa_template",
        "help": "Sent instead of the text on WhatsApp, so it may go outside the 24-hour window; "
        "other channels send the text. Approved templates of the WhatsApp channel (Messages → "
        "Channels → Sync templates).",
    },
    {
        "name": "wa_template_variables",
        "label": "Template values",
        "widget": "lines",
        "help": "One per line, in order: {{1}}, {{2}}… Merge fields allowed.",
    },
]


def obj(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


# --- the node type ------------------------------------------------------------------------------


class Node:
    type: str = ""
    category: str = "action"  # trigger | message | wait | logic | action | end
    label: str = ""
    icon: str = "circle"  # a Lucide icon name (cpaas/icons.py)
    help: str = ""
    schema: dict = obj({})
    form: list[dict] = []
    exits: tuple[str, ...] = ("next",)
    defaults: dict = {}
    purpose_from_journey: bool = False  # a new node takes its journey's purpose (or asks)

    def exit_names(self, config: dict) -> list[str]:
        return list(self.exits)

    def title(self, config: dict) -> str:
        """The node's default title when the marketer gave it none, from its config, so two
        nodes of one type read apart ("Hand off to support", "Hand off to collections")."""
        return self.label

    def waiting_exits(self, config: dict) -> frozenset[str]:
        """The exits a contact can only take after waiting for time, a reply or an event (a
        loop is allowed only through one of them). An exit that may be taken at once (a send
        that failed, a hand-off that continues immediately, a date already past) is not one."""
        return frozenset()

    def check(self, config: dict, ctx) -> list[tuple[str, str]]:
        """Checks beyond the schema, against the workspace (ctx: journeys.validation.Context)."""
        return []

    def enter(self, run) -> Outcome:
        return go()

    def resume(self, run, signal: Signal) -> Outcome:
        return go()

    def describe(self) -> dict:
        return {
            "type": self.type,
            "category": self.category,
            "label": self.label,
            "icon": self.icon,
            "help": self.help,
            "exits": list(self.exits),
            "schema": self.schema,
            "form": self.form,
            "defaults": self.defaults,
        }


def pick_text(texts: dict, language: str, default_language: str = "en") -> str:
    if not texts:
        return ""
    for lang in (language, (language or "").split("-")[0], default_language, "en"):
        if lang and lang in texts:
            return texts[lang]
    return next(iter(texts.values()))


def message_content(run, config: dict, text: str) -> dict:
    content: dict = {"text": text}
    for key in ("buttons", "quick_replies"):
        if config.get(key):
            content[key] = [
                {"id": o, "title": run.render(o)}
                if isinstance(o, str)
                else {"id": o.get("id") or o["title"], "title": run.render(o["title"])}
                for o in config[key]
            ]
    if config.get("media_url"):
        content["media_url"] = run.render(config["media_url"])
    if config.get("wa_template"):
        name, _, language = config["wa_template"].partition("|")
        values = [run.render(v) for v in config.get("wa_template_variables") or []]
        content["template"] = {
            "name": name,
            "language": language,
            "variables": {str(i): v for i, v in enumerate(values, 1)},
        }
    return content


def message_request(run, config: dict, text: str, *, purpose: str | None = None) -> SendRequest:
    return SendRequest(
        channel=config.get("channel", "preferred"),
        content=message_content(run, config, text),
        purpose=purpose or config.get("purpose", "transactional"),
        fallback=list(config.get("fallback") or []),
        fallback_after_s=config.get("fallback_after_s"),
    )


def check_message(config: dict, ctx) -> list[tuple[str, str]]:
    problems = []
    spec = config.get("channel", "preferred")
    if isinstance(spec, str) and spec != "preferred" and spec not in ctx.channel_kinds:
        problems.append(("channel", f"No active {spec} channel in this workspace."))
    if isinstance(spec, int) and spec not in ctx.channel_ids:
        problems.append(("channel", f"Channel {spec} is not an active channel of this workspace."))
    if spec == "preferred" and not ctx.channel_kinds:
        problems.append(("channel", "The workspace has no active channel."))
    for kind in config.get("fallback") or []:
        if kind not in ctx.channel_kinds:
            problems.append(("fallback", f"No active {kind} channel in this workspace."))
    if config.get("purpose") == "":
        problems.append(("purpose", "Choose what this message is for (transactional, marketing, …): the "
                                    "journey has no purpose for its messages to take."))  # fmt: skip
    if config.get("purpose") and config["purpose"] not in ctx.purposes:
        problems.append(
            ("purpose", f"Unknown purpose '{config['purpose']}' (one of {', '.join(sorted(ctx.purposes))}).")
        )
    problems += ctx.check_merge_fields(config.get("template"), "template")
    for value in config.get("wa_template_variables") or []:
        problems += ctx.check_merge_fields({"en": value}, "wa_template_variables")
    return problems


CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "rcs": "RCS", "voice": "Voice call", "email": "Email",
                 "viber": "Viber", "messenger": "Messenger", "push": "Push"}  # fmt: skip
_MERGE = re.compile(r"\{\{[^}]*\}\}")


def short(text, limit: int = 28) -> str:
    """A title-sized piece of text: merge fields dropped, whitespace folded, cut at a word."""
    text = " ".join(_MERGE.sub("", str(text or "")).split())
    text = re.sub(r"\s+([,.!?;:])", r"\1", text).strip(" ,.!:")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return f"{cut}…"


def first_text(texts) -> str:
    if isinstance(texts, dict):
        return texts.get("en") or next(iter(texts.values()), "") if texts else ""
    return str(texts or "")


def duration_words(total) -> str:
    """7 days, 2 h 30 min, 45 s: how a marketer says a duration."""
    try:
        total = int(total)
    except (TypeError, ValueError):
        return ""
    if total <= 0:
        return ""
    parts = []
    for size, one, many in ((86400, "day", "days"), (3600, "h", "h"), (60, "min", "min"), (1, "s", "s")):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    return " ".join(parts[:2])


def channel_name(kind) -> str:
    return CHANNEL_NAMES.get(kind, "Message" if kind in (None, "", "preferred") else str(kind))


def seconds(config: dict, key: str, default: int) -> dt.timedelta:
    return dt.timedelta(seconds=int(config.get(key) or default))
