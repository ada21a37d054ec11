"""Inbound STOP / START / HELP. The messaging layer calls `inbound_keyword` with every inbound
message before anything else sees it; it changes consent and returns the reply to send."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from contacts.models import ChannelKind, Contact
from cpaas.audit import audit_record

from .. import selectors
from ..addresses import address_kind, contact_address, contact_hash, mask
from ..models import ConsentEvent, Method, Status, Suppression
from ..selectors import KeywordRule
from .records import actor_for_keyword, events_append, status_before_suppression, status_events

PRIORITY = {"stop": 0, "start": 1, "help": 2}
_EDGE_PUNCTUATION = ".,!?;:'\"()[]¡¿-*"


def keyword_normalise(text: str) -> str:
    """Upper case, accents removed, surrounding whitespace and punctuation stripped:
    ' Arrêt! ' -> 'ARRET'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return plain.strip().strip(_EDGE_PUNCTUATION).strip().upper()


def _base_language(language: str) -> str:
    return (language or "").split("-")[0].split("_")[0].lower()


@dataclass(frozen=True)
class KeywordMatch:
    action: str
    word: str
    language: str  # the keyword's language ("" = any)
    fuzzy: bool = False


def _within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance <= 1 (one insertion, deletion, substitution or swap)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def keyword_match(
    text: str, *, language: str, keywords: list[KeywordRule], fuzzy: bool
) -> KeywordMatch | None:
    """Which keyword the message is, if any. Exact mode: the whole message is one keyword,
    ignoring case, accents and surrounding whitespace/punctuation ('STOP please' is not STOP).
    STOP words count in every language; START and HELP words only in the contact's language or
    when they have none. Fuzzy mode also finds a keyword among the message's words and a STOP
    word with one typo ('STPO')."""
    normal = keyword_normalise(text)
    if not normal:
        return None
    lang = _base_language(language)

    def usable(k: KeywordRule) -> bool:
        return k.action == "stop" or not k.language or k.language == lang

    candidates = sorted(
        (k for k in keywords if usable(k)),
        key=lambda k: (PRIORITY[k.action], k.language != lang, k.language == ""),
    )
    for k in candidates:
        if normal == k.word:
            return KeywordMatch(k.action, k.word, k.language)
    if not fuzzy:
        return None
    words = re.findall(r"[A-Z0-9]+", normal)
    for k in candidates:
        if k.word in words:
            return KeywordMatch(k.action, k.word, k.language, fuzzy=True)
    if len(words) == 1 and len(words[0]) >= 4:
        for k in candidates:
            if k.action == "stop" and len(k.word) >= 4 and _within_one_edit(words[0], k.word):
                return KeywordMatch(k.action, k.word, k.language, fuzzy=True)
    return None


@dataclass(frozen=True)
class KeywordResult:
    """What the inbound pipeline does with the message: `action` "none" lets it through."""

    action: str  # "stop" | "start" | "help" | "none"
    keyword: str
    reply: str
    language: str
    events: int = 0
    fuzzy: bool = False
    duplicate: bool = False

    @property
    def handled(self) -> bool:
        return self.action != "none"


def _reply(replies: dict, action: str, languages: list[str], workspace_name: str) -> tuple[str, str]:
    """The reply in the first language that has one: the keyword's own, the contact's, the
    workspace's, then the fallback (blank language)."""
    for lang in [*(x for x in languages if x), ""]:
        if (action, lang) in replies:
            return replies[(action, lang)].replace("{workspace}", workspace_name), lang
    return "", ""


@transaction.atomic
def inbound_keyword(
    *,
    contact: Contact,
    channel_kind: str,
    text: str,
    at: dt.datetime,
    language: str = "",
    inbound_message_id: str = "",
    dry_run: bool = False,
) -> KeywordResult:
    """Match the inbound text against the workspace's keywords, apply the change (STOP
    suppresses the address on this channel for every purpose; START lifts a keyword
    suppression and restores what STOP changed, and confirms pending double opt-ins) and
    return the reply. The same inbound message id twice changes nothing the second time."""
    if channel_kind not in ChannelKind.values:
        from django.core.exceptions import ValidationError

        raise ValidationError({"channel_kind": [f"Unknown channel '{channel_kind}'."]})
    if timezone.is_naive(at):
        raise ValueError("at must be an aware datetime")
    workspace = contact.workspace
    keywords, replies, fuzzy = selectors.keywords_for(workspace=workspace)
    language = language or contact.language or ""
    found = keyword_match(text, language=language, keywords=keywords, fuzzy=fuzzy)
    if found is None:
        return KeywordResult("none", "", "", "")
    lang = _base_language(language)
    reply, reply_language = _reply(
        replies,
        found.action,
        [found.language, lang, _base_language(workspace.default_language), ""],
        workspace.name,
    )
    result = KeywordResult(found.action, found.word, reply, reply_language, fuzzy=found.fuzzy)
    if dry_run or found.action == "help":
        return result
    inbound_message_id = (inbound_message_id or "").strip()[:120]
    if (
        inbound_message_id
        and ConsentEvent.objects.filter(
            workspace=workspace, method=Method.KEYWORD, inbound_message_id=inbound_message_id
        ).exists()
    ):
        return KeywordResult(**{**result.__dict__, "duplicate": True})

    actor, actor_type = actor_for_keyword(found.word)
    reason = f'Replied "{(text or "").strip()[:60]}" on {ChannelKind(channel_kind).label}' + (
        " (fuzzy match)" if found.fuzzy else ""
    )
    evidence = {"inbound_message_id": inbound_message_id, "language": lang}
    common = dict(
        contact=contact,
        channel_kinds=[channel_kind],
        method=Method.KEYWORD,
        reason=reason,
        actor=actor,
        actor_type=actor_type,
        at=at,
        evidence=evidence,
        source_ref=f"keyword:{found.word}",
    )
    h = contact_hash(contact, channel_kind)
    if found.action == "stop":
        if (
            h
            and not Suppression.objects.filter(
                workspace=workspace, channel_kind=channel_kind, address_hash=h
            ).exists()
        ):
            kind = address_kind(channel_kind)
            Suppression.objects.create(
                workspace=workspace,
                channel_kind=channel_kind,
                address_kind=kind,
                address_hash=h,
                address_hint=mask(kind, contact_address(contact, channel_kind)),
                contact=contact,
                reason=Suppression.Reason.KEYWORD,
                note=reason,
                created_by_label=actor.label,
                created_at=at,
            )
        events = status_events(new_status_for=lambda spec, record: Status.SUPPRESSED, **common)
    else:  # start
        if h:
            Suppression.objects.filter(
                workspace=workspace,
                channel_kind=channel_kind,
                address_hash=h,
                reason=Suppression.Reason.KEYWORD,
            ).delete()
        still_blocked = (
            bool(h)
            and Suppression.objects.filter(
                workspace=workspace, address_hash=h, channel_kind__in=[channel_kind, ""]
            ).exists()
        )
        if still_blocked:
            # An admin, a complaint or an erasure suppressed this address: START cannot lift it.
            reply, reply_language = _reply(
                replies,
                "help",
                [found.language, lang, _base_language(workspace.default_language), ""],
                workspace.name,
            )
            result = KeywordResult("start", found.word, reply, reply_language, fuzzy=found.fuzzy)
            events = []
        else:

            def restore(spec, record):
                if record is None:
                    return None
                if record.status == Status.SUPPRESSED:
                    return status_before_suppression(record, spec)
                if record.status == Status.PENDING:
                    return Status.OPTED_IN  # YES confirms a double opt-in
                return None

            events = status_events(new_status_for=restore, **common)
    if events:
        events_append(workspace=workspace, events=events, at=at)
    audit_record(
        workspace=workspace,
        actor=actor,
        action=f"consent.keyword.{found.action}",
        at=at,
        data={
            "contact_id": contact.pk,
            "channel": channel_kind,
            "keyword": found.word,
            "fuzzy": found.fuzzy,
            "inbound_message_id": inbound_message_id,
            "events": len(events),
        },
    )
    return KeywordResult(**{**result.__dict__, "events": len(events)})
