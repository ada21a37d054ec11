"""Workspace policy: quiet hours, purposes, frequency caps, keywords and their replies. Until an
admin changes something the built-in defaults apply; the first change writes them out."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from contacts.models import ChannelKind
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from .. import defaults
from ..models import (
    ConsentEvent,
    ConsentPolicy,
    ConsentRecord,
    FrequencyCap,
    Keyword,
    KeywordAction,
    KeywordReply,
    LawfulBasis,
    Purpose,
)
from .keywords import keyword_normalise

# Regulation F: before 8am and after 9pm local time are inconvenient for collections.
COLLECTIONS_EARLIEST = dt.time(8, 0)
COLLECTIONS_LATEST = dt.time(21, 0)


def policy_ensure(*, workspace: Workspace) -> ConsentPolicy:
    """The workspace's policy row, writing out the defaults (caps, keywords, replies) first time."""
    policy, created = ConsentPolicy.objects.select_for_update().get_or_create(
        workspace=workspace,
        defaults={"quiet_start": defaults.WORKSPACE_QUIET_START, "quiet_end": defaults.WORKSPACE_QUIET_END},
    )
    if created:
        FrequencyCap.objects.bulk_create(
            [
                FrequencyCap(
                    workspace=workspace,
                    purpose=c.purpose,
                    channel_kind=c.channel_kind,
                    limit=c.limit,
                    period_hours=c.period_hours,
                    source=c.source[:200],
                )
                for c in defaults.DEFAULT_CAPS
            ]
        )
        Keyword.objects.bulk_create(
            [
                Keyword(workspace=workspace, word=w, language=lang, action=a)
                for w, lang, a in defaults.DEFAULT_KEYWORDS
            ]
        )
        KeywordReply.objects.bulk_create(
            [
                KeywordReply(workspace=workspace, action=a, language=lang, text=t)
                for a, lang, t in defaults.DEFAULT_REPLIES
            ]
        )
    return policy


def _audit(workspace, actor, action, data, target=None):
    audit_record(workspace=workspace, actor=actor, action=action, target=target, data=data)


@transaction.atomic
def policy_update(
    *,
    workspace: Workspace,
    actor: Actor,
    quiet_start: dt.time,
    quiet_end: dt.time,
    fuzzy_keywords: bool,
    brand_name: str | None = None,
    support_contact: str | None = None,
) -> ConsentPolicy:
    """Quiet hours, fuzzy keywords, and the brand and support contact the HELP reply names
    (None: unchanged)."""
    policy = policy_ensure(workspace=workspace)
    if quiet_start is None or quiet_end is None:
        raise ValidationError({"quiet_start": ["Give both times (equal times mean no quiet hours)."]})
    policy.quiet_start, policy.quiet_end, policy.fuzzy_keywords = quiet_start, quiet_end, bool(fuzzy_keywords)
    if brand_name is not None:
        policy.brand_name = brand_name.strip()[:80]
    if support_contact is not None:
        policy.support_contact = support_contact.strip()[:120]
    policy.save()
    _audit(
        workspace,
        actor,
        "consent.policy.updated",
        {
            "quiet_start": f"{quiet_start:%H:%M}",
            "quiet_end": f"{quiet_end:%H:%M}",
            "fuzzy_keywords": fuzzy_keywords,
        },
    )
    return policy


@transaction.atomic
def purpose_save(*, workspace: Workspace, actor: Actor, key: str, data: dict) -> Purpose:
    """Create a custom purpose or change one (built-in ones too: the row overrides the default)."""
    key = slugify(key or data.get("label", "")).replace("-", "_")[:40]
    errors: dict[str, list[str]] = {}
    if not key:
        errors["key"] = ["Give the purpose a key, e.g. appointment_reminders."]
    label = (data.get("label") or "").strip()
    if not label:
        errors["label"] = ["Give the purpose a name."]
    rule = data.get("rule")
    if rule not in Purpose.Rule.values:
        errors["rule"] = [f"Unknown rule '{rule}'."]
    basis = data.get("default_basis")
    if basis not in LawfulBasis.values:
        errors["default_basis"] = [f"Unknown lawful basis '{basis}'."]
    elif rule == Purpose.Rule.OPT_IN and basis not in (LawfulBasis.CONSENT, LawfulBasis.SOFT_OPT_IN):
        errors["default_basis"] = ["A purpose that needs opt-in rests on consent."]
    elif rule == Purpose.Rule.UNLESS_OPTED_OUT and basis in (LawfulBasis.CONSENT, LawfulBasis.SOFT_OPT_IN):
        errors["default_basis"] = [
            "Consent is given by opting in: choose 'Needs explicit opt-in' as the rule."
        ]
    quiet = data.get("quiet_hours") or Purpose.QuietHours.WORKSPACE
    start, end = data.get("quiet_start"), data.get("quiet_end")
    if quiet not in Purpose.QuietHours.values:
        errors["quiet_hours"] = [f"Unknown choice '{quiet}'."]
    elif quiet == Purpose.QuietHours.CUSTOM and (start is None or end is None):
        errors["quiet_start"] = ["Give the start and end of this purpose's quiet hours."]
    if key == "collections" and not errors:
        _collections_guard(workspace, quiet, start, end, errors)
    if key == "marketing" and rule == Purpose.Rule.UNLESS_OPTED_OUT:
        errors["rule"] = ["Marketing needs explicit opt-in (PECR reg. 22, TCPA 64.1200(a)(2))."]
    if errors:
        raise ValidationError(errors)
    purpose, created = Purpose.objects.update_or_create(
        workspace=workspace,
        key=key,
        defaults={
            "label": label,
            "description": (data.get("description") or "").strip()[:300],
            "rule": rule,
            "default_basis": basis,
            "quiet_hours": quiet,
            "quiet_start": start if quiet == Purpose.QuietHours.CUSTOM else None,
            "quiet_end": end if quiet == Purpose.QuietHours.CUSTOM else None,
            "vulnerable_blocked": bool(data.get("vulnerable_blocked")),
        },
    )
    _audit(
        workspace,
        actor,
        "consent.purpose.created" if created else "consent.purpose.updated",
        {"key": key, "rule": rule, "basis": basis, "quiet_hours": quiet},
        purpose,
    )
    return purpose


def _collections_guard(workspace, quiet, start, end, errors) -> None:
    """Collections may not reach anyone before 08:00 or after 21:00 (Regulation F)."""
    if quiet == Purpose.QuietHours.NONE:
        errors["quiet_hours"] = ["Collections must keep quiet hours (Regulation F 1006.6(b)(1)(i))."]
        return
    if quiet == Purpose.QuietHours.WORKSPACE:
        policy = ConsentPolicy.objects.filter(workspace=workspace).first()
        start = policy.quiet_start if policy else defaults.WORKSPACE_QUIET_START
        end = policy.quiet_end if policy else defaults.WORKSPACE_QUIET_END
    if not (start > end and start <= COLLECTIONS_LATEST and end >= COLLECTIONS_EARLIEST):
        errors["quiet_start"] = [
            "Collections quiet hours must cover at least 21:00-08:00 in the contact's time "
            "(Regulation F 12 CFR 1006.6(b)(1)(i); TCPA 47 CFR 64.1200(c)(1))."
        ]


@transaction.atomic
def purpose_delete(*, workspace: Workspace, actor: Actor, key: str) -> None:
    """Remove a custom purpose that nothing refers to, or reset a built-in one to its defaults."""
    purpose = Purpose.objects.filter(workspace=workspace, key=key).first()
    if purpose is None:
        raise ValidationError({"key": [f"No purpose '{key}' to remove."]})
    if key not in defaults.BUILTIN_PURPOSES and (
        ConsentEvent.objects.filter(workspace=workspace, purpose=key).exists()
        or ConsentRecord.objects.filter(workspace=workspace, purpose=key).exists()
    ):
        raise ValidationError({"key": ["Consent has been recorded for this purpose: it stays, as evidence."]})
    purpose.delete()
    FrequencyCap.objects.filter(workspace=workspace, purpose=key).exclude(
        purpose__in=list(defaults.BUILTIN_PURPOSES)
    ).delete()
    _audit(workspace, actor, "consent.purpose.deleted", {"key": key})


@transaction.atomic
def cap_save(
    *,
    workspace: Workspace,
    actor: Actor,
    purpose: str,
    channel_kind: str,
    limit: int,
    period_hours: int,
    purposes,
) -> FrequencyCap:
    policy_ensure(workspace=workspace)
    errors: dict[str, list[str]] = {}
    if purpose not in purposes:
        errors["purpose"] = [f"Unknown purpose '{purpose}'."]
    if channel_kind and channel_kind not in ChannelKind.values:
        errors["channel_kind"] = [f"Unknown channel '{channel_kind}'."]
    if not isinstance(limit, int) or limit < 1:
        errors["limit"] = ["At least 1 message."]
    if not isinstance(period_hours, int) or not 1 <= period_hours <= 24 * 366:
        errors["period_hours"] = ["Between 1 hour and a year."]
    if (
        purpose == "collections"
        and channel_kind in ("voice", "")
        and isinstance(limit, int)
        and isinstance(period_hours, int)
        and limit * 7 * 24 > 7 * period_hours
    ):
        errors["limit"] = ["Collections calls: at most 7 in 7 days (Regulation F 12 CFR 1006.14(b)(2)(i))."]
    if errors:
        raise ValidationError(errors)
    cap, created = FrequencyCap.objects.update_or_create(
        workspace=workspace,
        purpose=purpose,
        channel_kind=channel_kind,
        defaults={"limit": limit, "period_hours": period_hours, "source": "Workspace policy."},
    )
    _audit(
        workspace,
        actor,
        "consent.cap.saved",
        {"purpose": purpose, "channel": channel_kind or "all", "limit": limit, "period_hours": period_hours},
        cap,
    )
    return cap


@transaction.atomic
def cap_delete(*, cap: FrequencyCap, actor: Actor) -> None:
    if cap.purpose == "collections" and cap.channel_kind == "voice":
        raise ValidationError({"cap": ["The Regulation F call cap for collections cannot be removed."]})
    _audit(
        cap.workspace,
        actor,
        "consent.cap.deleted",
        {"purpose": cap.purpose, "channel": cap.channel_kind or "all", "limit": cap.limit},
    )
    cap.delete()


def _language_clean(language: str) -> str:
    language = (language or "").strip().lower()
    if language and (len(language) > 8 or not language.replace("-", "").isalpha()):
        raise ValidationError(
            {"language": ["An ISO 639-1 code such as fr or es, or empty for every language."]}
        )
    return language


@transaction.atomic
def keyword_add(*, workspace: Workspace, actor: Actor, word: str, language: str, action: str) -> Keyword:
    policy_ensure(workspace=workspace)
    normal = keyword_normalise(word)
    errors: dict[str, list[str]] = {}
    if not normal or " " in normal or len(normal) > 40:
        errors["word"] = ["One word (letters or digits), e.g. ARRET."]
    if action not in KeywordAction.values:
        errors["action"] = [f"Unknown action '{action}'."]
    language = _language_clean(language)
    if normal and Keyword.objects.filter(workspace=workspace, word=normal, language=language).exists():
        errors["word"] = [f"{normal} is already a keyword{' for ' + language if language else ''}."]
    if errors:
        raise ValidationError(errors)
    keyword = Keyword.objects.create(workspace=workspace, word=normal, language=language, action=action)
    _audit(
        workspace, actor, "consent.keyword.added", {"word": normal, "language": language, "action": action}
    )
    return keyword


@transaction.atomic
def keyword_delete(*, keyword: Keyword, actor: Actor) -> None:
    if keyword.action == KeywordAction.STOP and keyword.word == "STOP" and not keyword.language:
        raise ValidationError(
            {"word": ["STOP is required by carriers and regulators: it cannot be removed."]}
        )
    _audit(
        keyword.workspace,
        actor,
        "consent.keyword.deleted",
        {"word": keyword.word, "language": keyword.language, "action": keyword.action},
    )
    keyword.delete()


@transaction.atomic
def reply_save(*, workspace: Workspace, actor: Actor, action: str, language: str, text: str) -> KeywordReply:
    policy_ensure(workspace=workspace)
    errors: dict[str, list[str]] = {}
    if action not in KeywordAction.values:
        errors["action"] = [f"Unknown action '{action}'."]
    text = (text or "").strip()
    if not text:
        errors["text"] = ["Write the reply (it may use {workspace} for the workspace's name)."]
    elif len(text) > 480:
        errors["text"] = ["At most 480 characters (three SMS segments)."]
    language = _language_clean(language)
    if errors:
        raise ValidationError(errors)
    reply, _ = KeywordReply.objects.update_or_create(
        workspace=workspace, action=action, language=language, defaults={"text": text}
    )
    _audit(workspace, actor, "consent.reply.saved", {"action": action, "language": language})
    return reply
