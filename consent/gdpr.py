"""What the consent registry holds about a contact, for GDPR export and erasure (registered with
cpaas.gdpr). Erasure removes the records, the evidence events and the ledgers, and keeps one
suppression entry per address of the contact: a SHA-256 hash, with no link to the person, so
that no one ever contacts that address again."""

from __future__ import annotations

from contacts.gdpr import uploads_scrub
from cpaas.gdpr import Subject, register

from .addresses import contact_identities
from .models import (
    ConsentEvent,
    ConsentImport,
    ConsentPolicy,
    ConsentRecord,
    ErasureGate,
    InboundRecord,
    KeywordReview,
    SendRecord,
    Suppression,
)

RECORD_FIELDS = ("channel_kind", "purpose", "sender_scope", "status", "lawful_basis", "captured_at",
                 "confirmed_at", "expires_at", "revoked_at")  # fmt: skip
EVENT_FIELDS = ("id", "channel_kind", "purpose", "sender_scope", "previous_status", "new_status",
                "lawful_basis", "actor_type", "actor_label", "method", "occurred_at", "recorded_at",
                "expires_at", "jurisdiction", "reason", *ConsentEvent.EVIDENCE_FIELDS)  # fmt: skip


def _suppressions_of(contact):
    hashes = list(contact_identities(contact))
    return Suppression.objects.filter(workspace_id=contact.workspace_id).filter(
        contact=contact
    ) | Suppression.objects.filter(workspace_id=contact.workspace_id, address_hash__in=hashes)


def export(contact) -> dict:
    return {
        "records": list(ConsentRecord.objects.filter(contact=contact).values(*RECORD_FIELDS)),
        "events": list(
            ConsentEvent.objects.filter(workspace_id=contact.workspace_id, contact_id=contact.pk)
            .order_by("occurred_at", "id")
            .values(*EVENT_FIELDS)
        ),
        "suppressions": list(
            _suppressions_of(contact).values("channel_kind", "address_kind", "reason", "note", "created_at")
        ),
        "sends": list(
            SendRecord.objects.filter(contact=contact)
            .order_by("sent_at")
            .values("channel_kind", "purpose", "sent_at")
        ),
        "last_inbound": list(
            InboundRecord.objects.filter(contact=contact).values("channel_kind", "last_inbound_at")
        ),
        "keyword_reviews": list(
            KeywordReview.objects.filter(contact=contact)
            .order_by("created_at")
            .values("channel_kind", "text", "rule", "created_at", "decision", "decided_at")
        ),
    }


def erase(subject: Subject) -> dict:
    contact, now = subject.contact, subject.at
    identities = contact_identities(contact)
    existing = {
        s.address_hash
        for s in Suppression.objects.filter(
            workspace_id=contact.workspace_id, channel_kind="", address_hash__in=list(identities)
        )
    }
    linked = _suppressions_of(contact)
    subject.rows_erased(Suppression, linked.values_list("pk", flat=True))
    kept = linked.update(contact=None, address_hint="", note="")
    Suppression.objects.bulk_create(
        [
            Suppression(
                workspace_id=contact.workspace_id,
                channel_kind="",
                address_kind=kind,
                address_hash=h,
                reason=Suppression.Reason.ERASURE,
                note="",
                created_by_label="GDPR erasure",
                created_at=now,
            )
            for h, (kind, _address) in identities.items()
            if h not in existing
        ]
    )
    subject.rows_erased(
        ConsentRecord, ConsentRecord.objects.filter(contact=contact).values_list("pk", flat=True)
    )
    # The one delete path for consent events: open the gate for this contact, delete, close it.
    gate = ErasureGate.objects.create(contact_id=contact.pk)
    events = ConsentEvent.objects.all()._erase_contact_events(contact.pk)
    gate.delete()
    records, _ = ConsentRecord.objects.filter(contact=contact).delete()
    sends, _ = SendRecord.objects.filter(contact=contact).delete()
    inbound, _ = InboundRecord.objects.filter(contact=contact).delete()
    reviews, _ = KeywordReview.objects.filter(contact=contact).delete()
    imports = uploads_scrub(
        subject,
        ConsentImport.objects.filter(workspace_id=contact.workspace_id),
        encoding=lambda upload: "utf-8-sig",
        external_id_columns=lambda upload: ["external_id"],
        busy=lambda upload: upload.status in (ConsentImport.Status.RUNNING, ConsentImport.Status.WRITING),
    )
    return {
        "events": events,
        "records": records,
        "sends": sends,
        "inbound": inbound,
        "keyword_reviews": reviews,
        "suppression_hashes": len(identities),
        "suppressions_unlinked": kept,
        "imports_scrubbed": imports,
    }


register(
    "consent",
    export=export,
    erase=erase,
    covers=[ConsentEvent, ConsentRecord, Suppression, SendRecord, InboundRecord, KeywordReview],
    copies=[ConsentImport],
    not_personal={
        ErasureGate: "holds a contact id only inside the erasure's own transaction",
        ConsentPolicy: "support_contact is the workspace's own help line, not a person's contact",
    },
    unswept={ConsentEvent: "append-only evidence; another person's event is their evidence, unchanged"},
)
