"""Inbound STOP / START / HELP. The messaging layer calls `inbound_keyword` with every inbound
message before anything else sees it; it changes consent and returns the reply to send."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.db import transaction
from django.utils import timezone

from contacts.models import ChannelKind, Contact
from cpaas.audit import audit_record

from .. import defaults, selectors
from ..addresses import address_kind, contact_address, contact_hash, mask
from ..models import ConsentEvent, KeywordReview, Method, Status, Suppression
from ..selectors import KeywordRule
from .records import actor_for_keyword, events_append, status_before_suppression, status_events

PRIORITY = {"stop": 0, "start": 1, "help": 2}


def keyword_normalise(text: str) -> str:
    """Upper case; accents, zero-width and other invisible characters and emoji variation
    selectors removed; every run of spaces, punctuation, quotes, symbols and emoji made one space,
    trimmed: ' «Arrêt!» 🛑 ' -> 'ARRET', 'opt-out' -> 'OPT OUT', 'ST\u200bOP' -> 'STOP'."""
    out = []
    for ch in unicodedata.normalize("NFKD", text or ""):
        category = unicodedata.category(ch)
        if category in ("Mn", "Me", "Cf"):  # accents, variation selectors, zero-width characters
            continue
        out.append(ch if category[0] in "LN" else " ")
    return " ".join("".join(out).split()).upper()


def _base_language(language: str) -> str:
    return (language or "").split("-")[0].split("_")[0].lower()


@dataclass(frozen=True)
class KeywordMatch:
    action: str  # "stop" | "start" | "help" | "review" (a person decides)
    word: str
    language: str  # the keyword's language ("" = any)
    fuzzy: bool = False
    rule: str = ""  # how it matched: the evidence recorded with the change


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


@lru_cache(maxsize=1)
def _revocation_data() -> tuple[list[tuple[str, tuple[str, ...]]], frozenset[str]]:
    """(phrases as (language, words), filler words), normalised like messages, every language."""
    phrases = [
        (lang, tuple(keyword_normalise(p).split()))
        for lang, items in defaults.REVOCATION_PHRASES.items()
        for p in items
    ]
    phrases.sort(key=lambda item: -len(item[1]))  # the longest phrase first
    fillers = frozenset(
        w for text in defaults.REVOCATION_FILLERS.values() for w in keyword_normalise(text).split()
    )
    return phrases, fillers


def _find(words: list[str], phrase: tuple[str, ...]) -> int:
    n = len(phrase)
    return next((i for i in range(len(words) - n + 1) if tuple(words[i : i + n]) == phrase), -1)


def _revocation(words: list[str], stops: list[KeywordRule]) -> tuple[KeywordMatch | None, str]:
    """A short message that plainly revokes consent: (match, '') ; one that holds a STOP word or
    a revocation phrase among other words: (None, what it held), for a person to decide."""
    phrases, fillers = _revocation_data()
    held = ""
    candidates: list[tuple[str, str, int, int]] = []  # (rule, word, start, length)
    for k in stops:
        for i, w in enumerate(words):
            if w == k.word:
                candidates.append((f"stop word {k.word}", k.word, i, 1))
            elif i + 1 < len(words) and w + words[i + 1] == k.word:  # OPT OUT -> OPTOUT
                candidates.append((f"stop word {k.word}", k.word, i, 2))
    for lang, phrase in phrases:
        at = _find(words, phrase)
        if at >= 0:
            candidates.append((f"phrase ({lang}) '{' '.join(phrase)}'", "STOP", at, len(phrase)))
    for rule, word, start, length in candidates:
        rest = words[:start] + words[start + length :]
        held = held or rule
        stop_words = {k.word for k in stops}
        if len(words) <= defaults.REVOCATION_MAX_WORDS and all(w in fillers or w in stop_words for w in rest):
            extra = f" with {' '.join(rest)}" if rest else ""
            return KeywordMatch("stop", word, "", rule=f"{rule}{extra}"), ""
    return None, held


def keyword_match(
    text: str, *, language: str, keywords: list[KeywordRule], fuzzy: bool
) -> KeywordMatch | None:
    """Which keyword the message is, if any. The whole message is one keyword, ignoring case,
    accents, invisible characters, punctuation, quotes and emoji around or inside it ('opt-out'
    is OPTOUT). STOP words count in every language; START and HELP words only in the contact's
    language or when they have none. By default a short message that plainly revokes consent
    ('stop please', 'unsubscribe me', 'stop sending me messages') is a STOP too; other messages
    that hold a STOP word are returned as action "review" (a person decides) unless fuzzy mode
    is on, which also finds a keyword among any message's words and a STOP word with one typo
    ('STPO')."""
    normal = keyword_normalise(text)
    if not normal:
        return None
    lang = _base_language(language)
    words = normal.split()
    compact = "".join(words)

    def usable(k: KeywordRule) -> bool:
        return k.action == "stop" or not k.language or k.language == lang

    candidates = sorted(
        (k for k in keywords if usable(k)),
        key=lambda k: (PRIORITY[k.action], k.language != lang, k.language == ""),
    )
    for k in candidates:
        if compact == k.word.replace(" ", ""):
            return KeywordMatch(k.action, k.word, k.language, rule=f"the message is {k.word}")
    stops = [k for k in candidates if k.action == "stop"]
    found, held = _revocation(words, stops)
    if found is not None:
        return found
    if fuzzy:
        for k in candidates:
            if k.word in words:
                return KeywordMatch(k.action, k.word, k.language, fuzzy=True, rule=f"fuzzy: holds {k.word}")
        if len(words) == 1 and len(words[0]) >= 4:
            for k in stops:
                if len(k.word) >= 4 and _within_one_edit(words[0], k.word):
                    return KeywordMatch(
                        k.action, k.word, k.language, fuzzy=True, rule=f"fuzzy: {words[0]} ~ {k.word}"
                    )
        if held:
            return KeywordMatch("stop", "STOP", "", fuzzy=True, rule=f"fuzzy: {held}")
    if held:
        return KeywordMatch("review", "", "", rule=held)
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
    review: bool = False  # holds a STOP word but is not plainly a revocation: a person decides
    rule: str = ""  # how it matched (recorded with the change as evidence)

    @property
    def handled(self) -> bool:
        return self.action != "none"


def _reply(replies: dict, action: str, languages: list[str], fill: dict) -> tuple[str, str]:
    """The reply in the first language that has one: the keyword's own, the contact's, the
    workspace's, then the fallback (blank language), with {workspace}, {brand} and {support}
    filled in."""
    for lang in [*(x for x in languages if x), ""]:
        if (action, lang) in replies:
            text = replies[(action, lang)]
            for name, value in fill.items():
                if name == "support" and not value:
                    value = defaults.SUPPORT_FALLBACK.get(lang, defaults.SUPPORT_FALLBACK[""])
                text = text.replace("{" + name + "}", value)
            return text, lang
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
    payload: str = "",
    dry_run: bool = False,
) -> KeywordResult:
    """Match the inbound text (and the payload of a pressed WhatsApp/RCS button, checked first)
    against the workspace's keywords, apply the change (STOP suppresses the address on this
    channel for every purpose; START lifts a keyword suppression and restores what STOP changed,
    and confirms pending double opt-ins) and return the reply. START or YES that lifted nothing
    is not a keyword (action "none": a YES answers a journey's question). A message that holds a
    STOP word but is not plainly a revocation is put on the review list (`review` is True) and
    passes on. The same inbound message id twice changes nothing the second time."""
    if channel_kind not in ChannelKind.values:
        from django.core.exceptions import ValidationError

        raise ValidationError({"channel_kind": [f"Unknown channel '{channel_kind}'."]})
    if timezone.is_naive(at):
        raise ValueError("at must be an aware datetime")
    workspace = contact.workspace
    keywords, replies, fuzzy = selectors.keywords_for(workspace=workspace)
    fill = selectors.reply_fields_for(workspace=workspace)
    language = language or contact.language or ""
    found = None
    if (payload or "").strip():
        found = keyword_match(payload, language=language, keywords=keywords, fuzzy=False)
        if found is not None and found.action == "review":
            found = None
        elif found is not None:
            found = KeywordMatch(
                found.action, found.word, found.language, rule=f"button payload: {found.rule}"
            )
    if found is None:
        found = keyword_match(text, language=language, keywords=keywords, fuzzy=fuzzy)
    if found is None:
        return KeywordResult("none", "", "", "")
    if found.action == "review":
        if not dry_run:
            _review_add(contact, channel_kind, text, found.rule, inbound_message_id, at)
        return KeywordResult("none", "", "", "", review=True, rule=found.rule)
    lang = _base_language(language)
    reply, reply_language = _reply(
        replies,
        found.action,
        [found.language, lang, _base_language(workspace.default_language), ""],
        fill,
    )
    result = KeywordResult(
        found.action, found.word, reply, reply_language, fuzzy=found.fuzzy, rule=found.rule
    )
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
    reason = (
        f'Replied "{(text or payload or "").strip()[:60]}" on {ChannelKind(channel_kind).label}'
        + (" (fuzzy match)" if found.fuzzy else "")
        + f"; matched: {found.rule}"
    )[:500]
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
        events = _stop_events(common)
    else:  # start
        lifted = 0
        if h:
            lifted, _ = Suppression.objects.filter(
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
                fill,
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
            if not lifted and not events:
                # never opted out, nothing pending: no "subscribed again" to a YES that answers
                # a question; the message passes on
                return KeywordResult("none", "", "", "")
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
            "rule": found.rule,
            "inbound_message_id": inbound_message_id,
            "events": len(events),
        },
    )
    return KeywordResult(**{**result.__dict__, "events": len(events)})


def _stop_events(common: dict) -> list[ConsentEvent]:
    """STOP: the address goes on the suppression list for the channel (a keyword suppression,
    which START may lift) and every purpose of the channel is suppressed."""
    contact, channel_kind = common["contact"], common["channel_kinds"][0]
    workspace = contact.workspace
    h = contact_hash(contact, channel_kind)
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
            note=common["reason"],
            created_by_label=common["actor"].label,
            created_at=common["at"],
        )
    return status_events(new_status_for=lambda spec, record: Status.SUPPRESSED, **common)


@transaction.atomic
def review_decide(*, review: KeywordReview, actor, opt_out: bool, at: dt.datetime) -> KeywordReview:
    """A person decides an inbound message on the review list: an opt-out (as if the contact had
    replied STOP on that channel, recorded with the reviewer and the message as evidence) or
    not an opt-out. Decided once."""
    from django.core.exceptions import ValidationError

    review = KeywordReview.objects.select_for_update().get(pk=review.pk)
    if review.decision != KeywordReview.Decision.OPEN:
        raise ValidationError({"decision": [f"Already decided: {review.get_decision_display()}."]})
    events = []
    if opt_out:
        common = dict(
            contact=review.contact,
            channel_kinds=[review.channel_kind],
            method=Method.KEYWORD,
            reason=(
                f'Replied "{review.text.strip()[:60]}" on {ChannelKind(review.channel_kind).label}; '
                f"reviewed by {actor.label}: an opt-out ({review.rule})"
            )[:500],
            actor=actor,
            actor_type=None,
            at=at,
            evidence={"inbound_message_id": review.inbound_message_id},
            source_ref=f"review:{review.pk}",
        )
        events = _stop_events(common)
        if events:
            events_append(workspace=review.workspace, events=events, at=at)
    review.decision = KeywordReview.Decision.OPTED_OUT if opt_out else KeywordReview.Decision.DISMISSED
    review.decided_at, review.decided_by_label = at, actor.label[:150]
    review.save(update_fields=["decision", "decided_at", "decided_by_label"])
    audit_record(
        workspace=review.workspace,
        actor=actor,
        action="consent.review.decided",
        at=at,
        data={
            "review_id": review.pk,
            "contact_id": review.contact_id,
            "decision": review.decision,
            "events": len(events),
        },
    )
    return review


def _review_add(contact, channel_kind: str, text: str, rule: str, inbound_message_id: str, at) -> None:
    """An inbound message that may revoke consent, for a person to decide (consent pages)."""
    inbound_message_id = (inbound_message_id or "").strip()[:120]
    if (
        inbound_message_id
        and KeywordReview.objects.filter(
            workspace=contact.workspace, inbound_message_id=inbound_message_id
        ).exists()
    ):
        return
    KeywordReview.objects.create(
        workspace=contact.workspace,
        contact=contact,
        channel_kind=channel_kind,
        text=(text or "")[:1000],
        rule=rule[:200],
        inbound_message_id=inbound_message_id,
        created_at=at,
    )
