"""Reads for the consent registry. Every selector takes the workspace first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from contacts.models import ChannelKind, Contact
from cpaas.models import Workspace

from . import defaults
from .addresses import address_hash, address_kind
from .defaults import PurposeSpec
from .models import (
    ConsentEvent,
    ConsentImport,
    ConsentPolicy,
    ConsentRecord,
    FrequencyCap,
    Keyword,
    KeywordReply,
    Purpose,
    SendRecord,
    Status,
    Suppression,
)


@dataclass(frozen=True)
class CapRule:
    purpose: str
    channel_kind: str
    limit: int
    period_hours: int
    source: str = ""
    pk: int | None = None

    @property
    def period(self) -> dt.timedelta:
        return dt.timedelta(hours=self.period_hours)


@dataclass
class Policy:
    """Everything check() needs about a workspace, read in at most three queries."""

    quiet_start: dt.time
    quiet_end: dt.time
    fuzzy_keywords: bool
    purposes: dict[str, PurposeSpec]
    caps: list[CapRule] = field(default_factory=list)
    customised: bool = False  # False: the built-in defaults, never changed

    def purpose(self, key: str) -> PurposeSpec | None:
        return self.purposes.get(key)

    def quiet_window(self, purpose: PurposeSpec) -> tuple[dt.time, dt.time] | None:
        if purpose.quiet_hours == "none":
            return None
        if purpose.quiet_hours == "custom" and purpose.quiet_start and purpose.quiet_end:
            window = (purpose.quiet_start, purpose.quiet_end)
        else:
            window = (self.quiet_start, self.quiet_end)
        return None if window[0] == window[1] else window

    def caps_for(self, purpose: str, channel_kind: str) -> list[CapRule]:
        return [c for c in self.caps if c.purpose == purpose and c.channel_kind in ("", channel_kind)]


def _spec_from_row(row: Purpose) -> PurposeSpec:
    builtin = defaults.BUILTIN_PURPOSES.get(row.key)
    return PurposeSpec(
        key=row.key,
        label=row.label,
        rule=row.rule,
        default_basis=row.default_basis,
        quiet_hours=row.quiet_hours,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        vulnerable_blocked=row.vulnerable_blocked,
        description=row.description,
        builtin=builtin is not None,
        source=builtin.source if builtin else "Workspace policy.",
    )


def purposes_for(*, workspace: Workspace) -> dict[str, PurposeSpec]:
    """Built-in purposes, as the workspace has set them, then its own purposes."""
    purposes = dict(defaults.BUILTIN_PURPOSES)
    for row in Purpose.objects.filter(workspace=workspace):
        purposes[row.key] = _spec_from_row(row)
    return purposes


def policy_for(*, workspace: Workspace) -> Policy:
    row = ConsentPolicy.objects.filter(workspace=workspace).first()
    purposes = purposes_for(workspace=workspace)
    if row is None:
        caps = [
            CapRule(c.purpose, c.channel_kind, c.limit, c.period_hours, c.source)
            for c in defaults.DEFAULT_CAPS
        ]
        return Policy(defaults.WORKSPACE_QUIET_START, defaults.WORKSPACE_QUIET_END, False, purposes, caps)
    caps = [
        CapRule(c.purpose, c.channel_kind, c.limit, c.period_hours, c.source, c.pk)
        for c in FrequencyCap.objects.filter(workspace=workspace)
    ]
    return Policy(row.quiet_start, row.quiet_end, row.fuzzy_keywords, purposes, caps, customised=True)


def reply_fields_for(*, workspace: Workspace) -> dict[str, str]:
    """What keyword replies fill in: {workspace}, {brand}, {support} (CTIA: the HELP reply names
    the brand and a customer-care contact)."""
    row = (
        ConsentPolicy.objects.filter(workspace=workspace).values("brand_name", "support_contact").first()
        or {}
    )
    return {
        "workspace": workspace.name,
        "brand": row.get("brand_name") or workspace.name,
        "support": row.get("support_contact") or "",  # blank: defaults.SUPPORT_FALLBACK by language
    }


@dataclass(frozen=True)
class KeywordRule:
    word: str
    language: str
    action: str
    pk: int | None = None


def keywords_for(*, workspace: Workspace) -> tuple[list[KeywordRule], dict[tuple[str, str], str], bool]:
    """(keywords, replies by (action, language), fuzzy mode)."""
    policy = ConsentPolicy.objects.filter(workspace=workspace).first()
    if policy is None:
        words = [KeywordRule(w, lang, action) for w, lang, action in defaults.DEFAULT_KEYWORDS]
        replies = {(action, lang): text for action, lang, text in defaults.DEFAULT_REPLIES}
        return words, replies, False
    words = [
        KeywordRule(k.word, k.language, k.action, k.pk) for k in Keyword.objects.filter(workspace=workspace)
    ]
    replies = {(r.action, r.language): r.text for r in KeywordReply.objects.filter(workspace=workspace)}
    return words, replies, policy.fuzzy_keywords


# --- records and events -------------------------------------------------------------------------


def contact_records(*, workspace: Workspace, contact: Contact) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(workspace=workspace, contact=contact)


@dataclass
class MatrixCell:
    channel_kind: str
    purpose: PurposeSpec
    record: ConsentRecord | None
    scoped: list[ConsentRecord]
    suppressed: bool

    @property
    def state(self) -> str:
        """What the cell shows: a status, or what applies without a record."""
        if self.suppressed:
            return "suppressed"
        if self.record is not None:
            return self.record.status
        return "no_consent" if self.purpose.needs_opt_in else "basis"


def consent_matrix(*, workspace: Workspace, contact: Contact) -> tuple[list[PurposeSpec], list[dict]]:
    """Rows of channels x purposes for the contact page: (purposes, [{channel, label, cells}])."""
    from .addresses import contact_hash

    purposes = list(purposes_for(workspace=workspace).values())
    records = list(contact_records(workspace=workspace, contact=contact))
    hashes = {kind: contact_hash(contact, kind) for kind in ChannelKind.values}
    suppressed = Suppression.objects.filter(
        workspace=workspace, address_hash__in=[h for h in hashes.values() if h]
    ).values_list("channel_kind", "address_hash")
    blocked = {(kind, h) for kind, h in suppressed}
    rows = []
    for kind, label in ChannelKind.choices:
        h = hashes[kind]
        is_suppressed = bool(h) and ((kind, h) in blocked or ("", h) in blocked)
        cells = []
        for purpose in purposes:
            mine = [r for r in records if r.channel_kind == kind and r.purpose == purpose.key]
            main = next((r for r in mine if not r.sender_scope), None)
            scoped = [r for r in mine if r.sender_scope]
            cells.append(MatrixCell(kind, purpose, main, scoped, is_suppressed))
        rows.append({"channel": kind, "label": label, "has_address": bool(h), "cells": cells})
    return purposes, rows


def channel_badges(*, workspace: Workspace, contact: Contact) -> list[dict]:
    """One badge per channel kind the contact can be reached on, for the contact page: the
    strictest state across purposes."""
    purposes, rows = consent_matrix(workspace=workspace, contact=contact)
    badges = []
    for row in rows:
        if not row["has_address"]:
            continue
        states = {cell.state for cell in row["cells"]}
        if "suppressed" in states:
            badge = ("suppressed", "blocked")
        elif Status.OPTED_IN in states:
            badge = (
                "marketing ok"
                if any(c.state == Status.OPTED_IN and c.purpose.key == "marketing" for c in row["cells"])
                else "opted in",
                "allowed",
            )
        elif Status.OPTED_OUT in states:
            badge = ("opted out", "deny")
        elif Status.PENDING in states:
            badge = ("pending", "pending")
        else:
            badge = ("no opt-in", "no-optin")
        badges.append({"channel": row["channel"], "label": row["label"], "text": badge[0], "css": badge[1]})
    return badges


EVENT_FILTERS = ("channel", "purpose", "method", "status", "contact", "since", "until")


def event_list(*, workspace: Workspace, filters: dict | None = None) -> QuerySet[ConsentEvent]:
    filters = filters or {}
    qs = ConsentEvent.objects.filter(workspace=workspace)
    if filters.get("contact"):
        qs = qs.filter(contact_id=filters["contact"])
    if filters.get("channel"):
        qs = qs.filter(channel_kind=filters["channel"])
    if filters.get("purpose"):
        qs = qs.filter(purpose=filters["purpose"])
    if filters.get("method"):
        qs = qs.filter(method=filters["method"])
    if filters.get("status"):
        qs = qs.filter(new_status=filters["status"])
    if filters.get("since"):
        qs = qs.filter(occurred_at__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(occurred_at__lt=filters["until"])
    return qs.order_by("-occurred_at", "-id")


def contact_events(*, workspace: Workspace, contact: Contact) -> QuerySet[ConsentEvent]:
    return event_list(workspace=workspace, filters={"contact": contact.pk})


def record_list(*, workspace: Workspace) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(workspace=workspace).order_by("contact_id", "channel_kind", "purpose")


def registry_stats(*, workspace: Workspace) -> dict:
    by_status = dict(
        ConsentRecord.objects.filter(workspace=workspace)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {
        "records": sum(by_status.values()),
        "by_status": by_status,
        "suppressions": Suppression.objects.filter(workspace=workspace).count(),
        "events": ConsentEvent.objects.filter(workspace=workspace).count(),
    }


# --- suppression ---------------------------------------------------------------------------------


def suppression_list(*, workspace: Workspace, q: str = "", channel: str = "") -> QuerySet[Suppression]:
    """Entries, optionally those matching an address typed in full (hashed to compare)."""
    qs = Suppression.objects.filter(workspace=workspace)
    if channel:
        qs = qs.filter(Q(channel_kind=channel) | Q(channel_kind=""))
    q = (q or "").strip()
    if q:
        from contacts.validation import normalize_phone

        candidates = {address_hash("email", q), address_hash("phone", q)}
        for kind in ("messenger", "push"):
            candidates.add(address_hash(kind, q))
        try:
            candidates.add(address_hash("phone", normalize_phone(q, workspace.default_country)))
        except ValueError:
            pass
        qs = qs.filter(address_hash__in=candidates)
    return qs


def suppression_for(*, workspace: Workspace, channel_kind: str, address: str) -> Suppression | None:
    kind = address_kind(channel_kind)
    return (
        Suppression.objects.filter(workspace=workspace, address_hash=address_hash(kind, address))
        .filter(Q(channel_kind=channel_kind) | Q(channel_kind=""))
        .first()
    )


def import_list(*, workspace: Workspace) -> QuerySet[ConsentImport]:
    return ConsentImport.objects.filter(workspace=workspace).defer("content")


@dataclass(frozen=True)
class CapUsage:
    """How much of one frequency cap a contact has used at `at`: the counter an agent sees (the
    7-in-7 call rule of Regulation F is the collections/voice cap). `next_at` is when a place
    frees when the cap is full (the oldest counted send leaves the window), else None."""

    cap: CapRule
    used: int
    next_at: dt.datetime | None

    @property
    def full(self) -> bool:
        return self.used >= self.cap.limit


def cap_usage(
    *, workspace: Workspace, contact: Contact, purpose: str, channel_kind: str, at: dt.datetime
) -> list[CapUsage]:
    """The caps that bind a send of `purpose` on `channel_kind` to this contact, each with the
    sends counted in its window, counted exactly as check() counts them (the send ledger:
    accepted sends and places reserved at hand-over). One query per cap."""
    out = []
    for cap in policy_for(workspace=workspace).caps_for(purpose, channel_kind):
        sends = SendRecord.objects.filter(
            workspace=workspace,
            contact=contact,
            purpose=purpose,
            sent_at__gt=at - cap.period,
            sent_at__lte=at,
        )
        if cap.channel_kind:
            sends = sends.filter(channel_kind=cap.channel_kind)
        times = sorted(sends.values_list("sent_at", flat=True))
        full = len(times) >= cap.limit
        out.append(CapUsage(cap, len(times), times[len(times) - cap.limit] + cap.period if full else None))
    return out
