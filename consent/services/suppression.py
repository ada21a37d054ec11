"""The suppression list (never contact this address), and the two ledgers the messaging layer
feeds: sends (frequency caps) and inbound messages (the WhatsApp service window)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import ChannelKind, Contact
from contacts.validation import normalize_phone
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from ..addresses import PHONE_KINDS, address_hash, address_kind, mask, normalise
from ..models import InboundRecord, Method, SendRecord, Status, Suppression
from .records import events_append, status_before_suppression, status_events


def _aware(at: dt.datetime) -> None:
    if not isinstance(at, dt.datetime) or timezone.is_naive(at):
        raise ValueError("at must be an aware datetime")


def _address_clean(workspace: Workspace, channel_kind: str, address: str) -> tuple[str, str]:
    """(address kind, normalised address) or a ValidationError on "address"."""
    if channel_kind and channel_kind not in ChannelKind.values:
        raise ValidationError({"channel_kind": [f"Unknown channel '{channel_kind}'."]})
    address = (address or "").strip()
    if not address:
        raise ValidationError({"address": ["Give the phone number, email address or channel id."]})
    if not channel_kind:  # every channel: a phone number or an email address
        kind = "email" if "@" in address else "phone"
    else:
        kind = address_kind(channel_kind)
    if kind == "phone" and (not channel_kind or channel_kind in PHONE_KINDS):
        try:
            address = normalize_phone(address, workspace.default_country)
        except ValueError as exc:
            raise ValidationError({"address": [str(exc)]}) from None
    elif kind == "email":
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"address": [f"'{address}' is not an email address."]}) from None
    return kind, normalise(kind, address)


def _contacts_with(workspace: Workspace, kind: str, address: str) -> list[Contact]:
    if kind == "phone":
        return list(Contact.objects.filter(workspace=workspace, phone=address))
    if kind == "email":
        return list(Contact.objects.filter(workspace=workspace, email__iexact=address))
    return list(Contact.objects.filter(workspace=workspace, **{f"addresses__{kind}": address}))


def _kinds_for(channel_kind: str, kind: str) -> list[str]:
    if channel_kind:
        return [channel_kind]
    return [k for k in ChannelKind.values if address_kind(k) == kind]


@transaction.atomic
def suppression_add(
    *,
    workspace: Workspace,
    actor: Actor,
    channel_kind: str,
    address: str,
    reason: str,
    note: str,
    at: dt.datetime,
) -> Suppression:
    """Put an address on the suppression list (one channel, or every channel when blank). The
    contacts with that address get a 'suppressed' event for every purpose."""
    _aware(at)
    if reason not in Suppression.Reason.values or reason == Suppression.Reason.ERASURE:
        raise ValidationError({"reason": [f"Unknown reason '{reason}'."]})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": ["Say why (e.g. 'Complaint by email, ticket 4411')."]})
    kind, normal = _address_clean(workspace, channel_kind, address)
    h = address_hash(kind, normal)
    existing = Suppression.objects.filter(
        workspace=workspace, channel_kind=channel_kind, address_hash=h
    ).first()
    if existing:
        raise ValidationError(
            {"address": ["This address is already on the suppression list for that channel."]}
        )
    contacts = _contacts_with(workspace, kind, normal)
    entry = Suppression.objects.create(
        workspace=workspace,
        channel_kind=channel_kind,
        address_kind=kind,
        address_hash=h,
        address_hint=mask(kind, normal),
        contact=contacts[0] if len(contacts) == 1 else None,
        reason=reason,
        note=note[:500],
        created_by_label=actor.label[:150],
        created_at=at,
    )
    events = []
    for contact in contacts:
        events += status_events(
            contact=contact,
            channel_kinds=_kinds_for(channel_kind, kind),
            new_status_for=lambda spec, record: Status.SUPPRESSED,
            method=Method.SYSTEM if actor.kind == "system" else Method.WRITTEN,
            reason=f"Suppressed: {note}",
            actor=actor,
            actor_type=actor.kind,
            at=at,
            source_ref=f"suppression:{entry.pk}",
        )
    if events:
        events_append(workspace=workspace, events=events, at=at)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="consent.suppression.added",
        target=entry,
        at=at,
        data={"channel": channel_kind or "all", "reason": reason, "contacts": [c.pk for c in contacts]},
    )
    return entry


@transaction.atomic
def suppression_lift(*, suppression: Suppression, actor: Actor, reason: str, at: dt.datetime) -> None:
    """Remove an entry (the person asked to hear from us again). Contacts with the address go
    back to what they had before the suppression. Erasure entries cannot be lifted: the person
    was erased, so a new contact must opt in afresh (lift is refused with a reason)."""
    _aware(at)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why (the person's request, with a reference)."]})
    if suppression.reason == Suppression.Reason.ERASURE:
        raise ValidationError(
            {"reason": ["This entry keeps an erased person from being contacted again; it cannot be lifted."]}
        )
    workspace = suppression.workspace
    contacts = [suppression.contact] if suppression.contact_id else []
    kinds = (
        [suppression.channel_kind]
        if suppression.channel_kind
        else [k for k in ChannelKind.values if address_kind(k) == suppression.address_kind]
    )
    suppression_id = suppression.pk
    suppression.delete()
    events = []
    for contact in contacts:

        def restore(spec, record):
            if record is None or record.status != Status.SUPPRESSED:
                return None
            return status_before_suppression(record, spec)

        events += status_events(
            contact=contact,
            channel_kinds=kinds,
            new_status_for=restore,
            method=Method.WRITTEN,
            reason=f"Suppression lifted: {reason}",
            actor=actor,
            actor_type=actor.kind,
            at=at,
            source_ref=f"suppression:{suppression_id}",
        )
    if events:
        events_append(workspace=workspace, events=events, at=at)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="consent.suppression.lifted",
        at=at,
        data={
            "suppression_id": suppression_id,
            "reason": reason,
            "channel": suppression.channel_kind or "all",
        },
    )


# --- ledgers ----------------------------------------------------------------------------------------


def send_recorded(
    *, contact: Contact, channel_kind: str, purpose: str, at: dt.datetime, message_ref: str | None = None
) -> SendRecord:
    """The messaging layer calls this when a provider accepts a message: frequency caps count
    these. The same message_ref twice records one send. Not audited: the message row is the
    record of the send; this is a counter."""
    _aware(at)
    if channel_kind not in ChannelKind.values:
        raise ValidationError({"channel_kind": [f"Unknown channel '{channel_kind}'."]})
    if message_ref:
        existing = SendRecord.objects.filter(
            workspace_id=contact.workspace_id, message_ref=message_ref
        ).first()
        if existing:
            return existing
    try:
        with transaction.atomic():
            return SendRecord.objects.create(
                workspace_id=contact.workspace_id,
                contact=contact,
                channel_kind=channel_kind,
                purpose=purpose,
                sent_at=at,
                message_ref=message_ref or None,
            )
    except IntegrityError:  # a concurrent call with the same message_ref won
        return SendRecord.objects.get(workspace_id=contact.workspace_id, message_ref=message_ref)


def sends_recorded(*, workspace_id: int, sends: list[dict]) -> int:
    """Batch form of send_recorded for the dispatcher: sends = [{contact_id, channel_kind,
    purpose, at, message_ref}] of one workspace, one INSERT per 1,000. A message_ref recorded
    before is skipped. Returns how many rows were offered."""
    rows = []
    for send in sends:
        _aware(send["at"])
        if send["channel_kind"] not in ChannelKind.values:
            raise ValidationError({"channel_kind": [f"Unknown channel '{send['channel_kind']}'."]})
        rows.append(
            SendRecord(
                workspace_id=workspace_id,
                contact_id=send["contact_id"],
                channel_kind=send["channel_kind"],
                purpose=send["purpose"],
                sent_at=send["at"],
                message_ref=send.get("message_ref") or None,
            )
        )
    SendRecord.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


def sends_released(*, workspace_id: int, message_refs: list[str]) -> int:
    """Give back the cap places `decide_sends` reserved for messages that were not sent after all
    (failed, blocked, put back for a retry). A ref without a reservation changes nothing."""
    refs = [r for r in message_refs if r]
    if not refs:
        return 0
    deleted, _ = SendRecord.objects.filter(workspace_id=workspace_id, message_ref__in=refs).delete()
    return deleted


def window_closed(*, workspace_id: int, contact_ids: list[int], channel_kind: str, at: dt.datetime) -> int:
    """The provider says the conversation window is closed (WhatsApp 131047) for these contacts:
    free-form messages wait for their next inbound. An inbound after `at` wins. Returns rows."""
    _aware(at)
    return InboundRecord.objects.filter(
        workspace_id=workspace_id,
        contact_id__in=contact_ids,
        channel_kind=channel_kind,
        last_inbound_at__lte=at,
    ).update(window_closed_at=at)


def inbound_recorded(*, contact: Contact, channel_kind: str, at: dt.datetime) -> InboundRecord:
    """The messaging layer calls this on each inbound message: keeps the latest inbound time per
    contact and channel kind (the WhatsApp 24-hour window starts there). An older time than the
    one stored changes nothing."""
    _aware(at)
    if channel_kind not in ChannelKind.values:
        raise ValidationError({"channel_kind": [f"Unknown channel '{channel_kind}'."]})
    with transaction.atomic():
        InboundRecord.objects.filter(
            contact=contact, channel_kind=channel_kind, last_inbound_at__lt=at
        ).update(last_inbound_at=at)
        record = InboundRecord.objects.filter(contact=contact, channel_kind=channel_kind).first()
        if record is not None:
            return record
        try:
            with transaction.atomic():
                return InboundRecord.objects.create(
                    workspace_id=contact.workspace_id,
                    contact=contact,
                    channel_kind=channel_kind,
                    last_inbound_at=at,
                )
        except IntegrityError:
            return inbound_recorded(contact=contact, channel_kind=channel_kind, at=at)
