"""Consent changes: validate, append a ConsentEvent, and derive the ConsentRecord from the events
with the one fold (`record_fold`). `records_rebuild` recomputes every record the same way."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import ChannelKind, Contact
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from .. import selectors
from ..addresses import contact_hash
from ..models import ActorType, ConsentEvent, ConsentRecord, LawfulBasis, Method, Status, Suppression

Key = tuple[int, str, str, str]  # contact id, channel kind, purpose, sender scope
OPT_IN_STATES = (Status.OPTED_IN, Status.PENDING)
BLOCK_STATES = (Status.OPTED_OUT, Status.SUPPRESSED)
CLOCK_SKEW = dt.timedelta(minutes=5)
SOFT_OPT_IN_CHANNELS = {ChannelKind.EMAIL, ChannelKind.SMS}  # "electronic mail" in PECR reg. 22(3)
# What an opt-in must carry, by how it was given (at least one of the fields).
OPT_IN_EVIDENCE = {
    Method.WEB_FORM: ("notice_text", "notice_version"),
    Method.KEYWORD: ("inbound_message_id",),
    Method.IVR: ("recording_id",),
    Method.AGENT_VERBAL: ("recording_id", "notice_text", "notice_version"),
    Method.WRITTEN: ("notice_text", "notice_version", "url"),
    Method.IMPORT: ("notice_text", "notice_version"),
    Method.API: ("notice_text", "notice_version", "url", "recording_id", "inbound_message_id"),
}
EVIDENCE_LABELS = {
    "notice_text": "the notice text",
    "notice_version": "the notice version",
    "url": "the URL",
    "recording_id": "the call recording id",
    "inbound_message_id": "the inbound message id",
}
EVIDENCE_LIMITS = {
    "notice_version": 60,
    "url": 500,
    "language": 8,
    "user_agent": 400,
    "inbound_message_id": 120,
    "recording_id": 120,
}


# --- the fold -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordState:
    status: str
    lawful_basis: str
    captured_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_event_id: int
    updated_at: dt.datetime

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def record_fold(events: Iterable[ConsentEvent]) -> RecordState | None:
    """The current state of one (contact, channel, purpose, sender scope) from its events: a pure
    function of the events, applied in the order they happened (occurred_at, then id)."""
    state: dict | None = None
    for event in sorted(events, key=lambda e: (e.occurred_at, e.pk)):
        before = state["status"] if state else ""
        new = event.new_status
        state = dict(
            state or {"captured_at": None, "confirmed_at": None, "expires_at": None, "revoked_at": None}
        )
        state["status"] = new
        state["lawful_basis"] = event.lawful_basis or state.get("lawful_basis", "")
        if new in OPT_IN_STATES and before not in OPT_IN_STATES:
            state.update(captured_at=event.occurred_at, confirmed_at=None, revoked_at=None)
        if new == Status.OPTED_IN:
            if before != Status.OPTED_IN or state["confirmed_at"] is None:
                state["confirmed_at"] = event.occurred_at
            state["expires_at"] = event.expires_at
        elif new == Status.PENDING:
            state["expires_at"] = event.expires_at
        elif before not in BLOCK_STATES:
            state.update(revoked_at=event.occurred_at, expires_at=None)
        state["last_event_id"] = event.pk
        state["updated_at"] = event.occurred_at
    return RecordState(**state) if state else None


def _key(event) -> Key:
    return (event.contact_id, event.channel_kind, event.purpose, event.sender_scope)


def _chunks(values, size: int = 500):
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _records_sync(workspace: Workspace, keys: set[Key]) -> dict[Key, ConsentRecord | None]:
    """Refold the events of these keys and write their records (the only writer of records).
    Reads per chunk of contacts, so any number of keys stays within SQL parameter limits."""
    out: dict[Key, ConsentRecord | None] = {}
    channels, purposes = {k[1] for k in keys}, {k[2] for k in keys}
    for ids in _chunks({k[0] for k in keys}):
        grouped: dict[Key, list[ConsentEvent]] = defaultdict(list)
        for event in ConsentEvent.objects.filter(
            workspace=workspace, contact_id__in=ids, channel_kind__in=channels, purpose__in=purposes
        ):
            grouped[_key(event)].append(event)
        existing = {
            _key(r): r
            for r in ConsentRecord.objects.filter(
                workspace=workspace, contact_id__in=ids, channel_kind__in=channels, purpose__in=purposes
            )
        }
        created, updated, gone = [], [], []
        for key in (k for k in keys if k[0] in set(ids)):
            state = record_fold(grouped.get(key, []))
            record = existing.get(key)
            if state is None:
                if record is not None:
                    gone.append(record.pk)
                out[key] = None
                continue
            if record is None:
                record = ConsentRecord(
                    workspace=workspace,
                    contact_id=key[0],
                    channel_kind=key[1],
                    purpose=key[2],
                    sender_scope=key[3],
                )
                created.append(record)
            else:
                updated.append(record)
            for name, value in state.as_dict().items():
                setattr(record, name, value)
            out[key] = record
        if gone:
            ConsentRecord.objects.filter(pk__in=gone).delete()
        if updated:
            ConsentRecord.objects.bulk_update(updated, list(ConsentRecord.STATE_FIELDS), batch_size=500)
        if created:
            ConsentRecord.objects.bulk_create(created, batch_size=500)
    return out


# --- validation -----------------------------------------------------------------------------------


def _clean_evidence(evidence: dict | None) -> tuple[dict, dict]:
    clean, errors = {}, {}
    for name, value in (evidence or {}).items():
        if name not in ConsentEvent.EVIDENCE_FIELDS:
            errors[name] = [f"Unknown evidence field '{name}'."]
            continue
        value = "" if value is None else str(value).strip()
        if name in EVIDENCE_LIMITS and len(value) > EVIDENCE_LIMITS[name]:
            errors[name] = [f"At most {EVIDENCE_LIMITS[name]} characters."]
        if name == "ip_address" and value:
            try:
                validate_ipv46_address(value)
            except ValidationError:
                errors[name] = [f"'{value}' is not an IP address."]
        if name == "url" and value and not value.startswith(("http://", "https://")):
            errors[name] = ["Give the full address of the page, starting with https://."]
        clean[name] = value
    if not clean.get("ip_address"):
        clean["ip_address"] = None
    return clean, errors


def _aware(value, name: str, errors: dict):
    if value is not None and timezone.is_naive(value):
        errors[name] = ["Give a time zone (e.g. 2026-11-22T10:00:00Z)."]
    return value


@dataclass
class Change:
    """One requested change, validated against the workspace's purposes."""

    contact: Contact
    channel_kind: str
    purpose: str
    status: str
    method: str
    reason: str
    lawful_basis: str = ""
    sender_scope: str = ""
    jurisdiction: str = ""
    occurred_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    evidence: dict | None = None


def change_clean(change: Change, *, purposes: dict, at: dt.datetime, suppressed: bool = False) -> Change:
    """The change with clean values, or a ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    if change.channel_kind not in ChannelKind.values:
        errors["channel_kind"] = [
            f"Unknown channel '{change.channel_kind}'. Use one of: {', '.join(ChannelKind.values)}."
        ]
    spec = purposes.get(change.purpose)
    if spec is None:
        errors["purpose"] = [f"Unknown purpose '{change.purpose}'. Use one of: {', '.join(purposes)}."]
    if change.status not in Status.values:
        errors["status"] = [f"Unknown status '{change.status}'. Use one of: {', '.join(Status.values)}."]
    if change.method not in Method.values:
        errors["method"] = [f"Unknown method '{change.method}'. Use one of: {', '.join(Method.values)}."]
    change.reason = (change.reason or "").strip()
    if not change.reason:
        errors["reason"] = ["Say why (e.g. 'Customer asked by phone on 3 May, call ref 123')."]
    elif len(change.reason) > 500:
        errors["reason"] = ["At most 500 characters."]
    change.lawful_basis = change.lawful_basis or ""
    if change.lawful_basis and change.lawful_basis not in LawfulBasis.values:
        errors["lawful_basis"] = [
            f"Unknown lawful basis '{change.lawful_basis}'. Use one of: {', '.join(LawfulBasis.values)}."
        ]
    change.sender_scope = (change.sender_scope or "").strip()
    change.jurisdiction = (change.jurisdiction or change.contact.workspace.default_country or "").strip()
    if len(change.sender_scope) > 64:
        errors["sender_scope"] = ["At most 64 characters."]
    if len(change.jurisdiction) > 12:
        errors["jurisdiction"] = ["At most 12 characters, e.g. GB, US-CA, EU."]
    evidence, evidence_errors = _clean_evidence(change.evidence)
    errors.update(evidence_errors)
    change.evidence = evidence
    change.occurred_at = _aware(change.occurred_at, "occurred_at", errors) or at
    _aware(change.expires_at, "expires_at", errors)
    if "occurred_at" not in errors and change.occurred_at > at + CLOCK_SKEW:
        errors["occurred_at"] = ["Cannot be in the future."]
    if change.expires_at and "expires_at" not in errors and change.expires_at <= change.occurred_at:
        errors["expires_at"] = ["Must be after the time consent was given."]
    if spec and change.status in OPT_IN_STATES and not errors.get("status"):
        if change.method == Method.SYSTEM:
            errors["method"] = ["An opt-in is given by a person: say how (web form, keyword, IVR…)."]
        wanted = OPT_IN_EVIDENCE.get(change.method, ())
        if wanted and not any(evidence.get(f) for f in wanted):
            names = " or ".join(EVIDENCE_LABELS[f] for f in wanted)
            errors.setdefault("evidence", []).append(
                f"An opt-in by {Method(change.method).label.lower()} needs evidence: {names}."
            )
        basis = change.lawful_basis or spec.default_basis
        if spec.needs_opt_in and basis not in (LawfulBasis.CONSENT, LawfulBasis.SOFT_OPT_IN):
            errors["lawful_basis"] = [f"{spec.label} needs consent (or soft opt-in): not '{basis}'."]
        if basis == LawfulBasis.SOFT_OPT_IN and change.channel_kind not in SOFT_OPT_IN_CHANNELS:
            errors["lawful_basis"] = ["Soft opt-in covers email and SMS only (PECR reg. 22(3))."]
        if change.status == Status.OPTED_IN and not change.lawful_basis:
            change.lawful_basis = basis
        if suppressed and change.method != Method.KEYWORD:
            errors["status"] = [
                "This address is on the suppression list for this channel: lift the suppression first "
                "(with the person's request as the reason), then record the opt-in."
            ]
    if errors:
        raise ValidationError(errors)
    return change


# --- writing --------------------------------------------------------------------------------------


def event_actor(actor: Actor, actor_type: str | None = None) -> dict:
    ref = ""
    if actor.kind == "user" and actor.user is not None:
        ref = f"user:{actor.user.pk}"
    elif actor.kind == "token" and actor.token is not None:
        ref = f"token:{actor.token.pk}"
    return {"actor_type": actor_type or actor.kind, "actor_label": actor.label[:150], "actor_ref": ref}


def _address_suppressed(contact: Contact, channel_kind: str) -> bool:
    h = contact_hash(contact, channel_kind)
    return bool(h) and (
        Suppression.objects.filter(workspace_id=contact.workspace_id, address_hash=h)
        .filter(Q(channel_kind=channel_kind) | Q(channel_kind=""))
        .exists()
    )


def events_append(
    *, workspace: Workspace, events: list[ConsentEvent], at: dt.datetime
) -> dict[Key, ConsentRecord | None]:
    """Insert events (previous_status filled from the current records) and refold their keys."""
    keys = {_key(e) for e in events}
    current = {}
    for ids in _chunks({k[0] for k in keys}):
        current.update(
            {_key(r): r.status for r in ConsentRecord.objects.filter(workspace=workspace, contact_id__in=ids)}
        )
    for event in events:
        event.workspace = workspace
        event.recorded_at = at
        event.previous_status = current.get(_key(event), "")
        current[_key(event)] = event.new_status
    ConsentEvent.objects.bulk_create(events, batch_size=500)
    return _records_sync(workspace, keys)


@transaction.atomic
def consent_change(
    *,
    contact: Contact,
    channel_kind: str,
    purpose: str,
    status: str,
    actor: Actor,
    method: str,
    reason: str,
    at: dt.datetime,
    evidence: dict | None = None,
    lawful_basis: str = "",
    sender_scope: str = "",
    jurisdiction: str = "",
    occurred_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    actor_type: str | None = None,
    source_ref: str = "",
) -> tuple[ConsentEvent, ConsentRecord]:
    """Record one change of consent with its evidence. Returns (event, current record)."""
    if timezone.is_naive(at):
        raise ValueError("at must be an aware datetime")
    workspace = contact.workspace
    change = change_clean(
        Change(
            contact, channel_kind, purpose, status, method, reason, lawful_basis, sender_scope,
            jurisdiction, occurred_at, expires_at, evidence,
        ),
        purposes=selectors.purposes_for(workspace=workspace),
        at=at,
        suppressed=status in OPT_IN_STATES and _address_suppressed(contact, channel_kind),
    )  # fmt: skip
    event = ConsentEvent(
        contact=contact,
        channel_kind=change.channel_kind,
        purpose=change.purpose,
        sender_scope=change.sender_scope,
        new_status=change.status,
        lawful_basis=change.lawful_basis,
        method=change.method,
        occurred_at=change.occurred_at,
        expires_at=change.expires_at,
        jurisdiction=change.jurisdiction,
        reason=change.reason,
        source_ref=source_ref,
        **change.evidence,
        **event_actor(actor, actor_type),
    )
    records = events_append(workspace=workspace, events=[event], at=at)
    record = records[_key(event)]
    audit_record(
        workspace=workspace,
        actor=actor,
        action="consent.changed",
        target=record,
        at=at,
        data={
            "contact_id": contact.pk,
            "channel": change.channel_kind,
            "purpose": change.purpose,
            "sender_scope": change.sender_scope,
            "from": event.previous_status,
            "to": change.status,
            "method": change.method,
            "event_id": event.pk,
        },
    )
    return event, record


def status_events(
    *,
    contact: Contact,
    channel_kinds: Iterable[str],
    new_status_for,
    method: str,
    reason: str,
    actor: Actor,
    actor_type: str,
    at: dt.datetime,
    evidence: dict | None = None,
    source_ref: str = "",
) -> list[ConsentEvent]:
    """Events that move every purpose (and every sender scope) of the contact on these channels,
    as `new_status_for(purpose_spec, record_or_None) -> status or None` decides (None: no event)."""
    purposes = selectors.purposes_for(workspace=contact.workspace)
    records = {
        (r.channel_kind, r.purpose, r.sender_scope): r
        for r in ConsentRecord.objects.filter(contact=contact, channel_kind__in=list(channel_kinds))
    }
    events = []
    for kind in channel_kinds:
        scopes = {scope for (k, _p, scope) in records if k == kind} | {""}
        for spec in purposes.values():
            for scope in sorted(scopes):
                record = records.get((kind, spec.key, scope))
                if scope and record is None:
                    continue
                status = new_status_for(spec, record)
                if status is None or (record is not None and record.status == status):
                    continue
                events.append(
                    ConsentEvent(
                        contact=contact,
                        channel_kind=kind,
                        purpose=spec.key,
                        sender_scope=scope,
                        new_status=status,
                        lawful_basis="",
                        method=method,
                        occurred_at=at,
                        jurisdiction=contact.workspace.default_country,
                        reason=reason[:500],
                        source_ref=source_ref,
                        **(evidence or {}),
                        **event_actor(actor, actor_type),
                    )
                )
    return events


def status_before_suppression(record: ConsentRecord, spec) -> str:
    """What a suppressed record goes back to when its suppression is lifted: the status before
    the event that suppressed it; without one, not opted in (opt-in purposes) or opted in
    (purposes allowed on their lawful basis)."""
    event = ConsentEvent.objects.filter(pk=record.last_event_id).first()
    previous = event.previous_status if event and event.new_status == Status.SUPPRESSED else ""
    if previous and previous != Status.SUPPRESSED:
        return previous
    return Status.OPTED_OUT if spec.needs_opt_in else Status.OPTED_IN


def export_recorded(
    *, workspace: Workspace, actor: Actor, what: str, at: dt.datetime, contact_id=None
) -> None:
    """Downloads of consent data are audited (who took the registry or a person's trail, when)."""
    audit_record(
        workspace=workspace,
        actor=actor,
        action=f"consent.export.{what}",
        at=at,
        data={"contact_id": contact_id} if contact_id else {},
    )


# --- rebuild --------------------------------------------------------------------------------------


@dataclass
class Difference:
    key: Key
    stored: dict | None
    derived: dict | None

    def describe(self) -> str:
        contact_id, channel, purpose, scope = self.key
        where = f"contact {contact_id} {channel}/{purpose}" + (f" [{scope}]" if scope else "")
        if self.stored is None:
            return f"{where}: missing record, events say {self.derived['status']}"
        if self.derived is None:
            return f"{where}: stored {self.stored['status']} but no events"
        changed = [k for k in self.derived if self.stored.get(k) != self.derived[k]]
        return f"{where}: " + ", ".join(
            f"{k} stored {self.stored[k]!r} != {self.derived[k]!r}" for k in changed
        )


def records_rebuild(
    *, workspace: Workspace | None = None, write: bool = False, chunk: int = 2000
) -> list[Difference]:
    """Recompute every record from the events and compare with what is stored; with write=True,
    store the derived state. Works through contacts in chunks (bounded memory)."""
    events = ConsentEvent.objects.all()
    records = ConsentRecord.objects.all()
    if workspace is not None:
        events, records = events.filter(workspace=workspace), records.filter(workspace=workspace)
    contact_ids = sorted(
        set(events.values_list("contact_id", flat=True).distinct())
        | set(records.values_list("contact_id", flat=True).distinct())
    )
    live = set()
    differences: list[Difference] = []
    for start in range(0, len(contact_ids), chunk):
        ids = contact_ids[start : start + chunk]
        live |= set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
        grouped: dict[Key, list] = defaultdict(list)
        for event in events.filter(contact_id__in=ids):
            grouped[_key(event)].append(event)
        stored = {_key(r): r for r in records.filter(contact_id__in=ids)}
        for key in sorted(set(grouped) | set(stored)):
            if key[0] not in live:
                continue  # events of a deleted contact are kept as evidence; it has no record
            state = record_fold(grouped.get(key, []))
            derived = state.as_dict() if state else None
            record = stored.get(key)
            now = {f: getattr(record, f) for f in ConsentRecord.STATE_FIELDS} if record else None
            if derived != now:
                differences.append(Difference(key, now, derived))
        if write:
            changed = {d.key for d in differences if d.key[0] in set(ids)}
            by_workspace = defaultdict(set)
            for key in changed:
                ws = (grouped.get(key) or [stored.get(key)])[0].workspace_id
                by_workspace[ws].add(key)
            for ws_id, keys in by_workspace.items():
                with transaction.atomic():
                    _records_sync(Workspace.objects.get(pk=ws_id), keys)
    return differences


def actor_for_keyword(word: str) -> tuple[Actor, str]:
    return Actor.system(f"inbound keyword {word}"), ActorType.KEYWORD
