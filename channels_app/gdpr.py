"""What the messaging core holds about a person, for GDPR export and erasure through cpaas.gdpr:
their messages (both directions, with every status change), their OTP verifications, and the
sandbox provider's copies of what was sent to them."""

from __future__ import annotations

from django.db.models import Q

from cpaas.gdpr import Subject, register

from .models import (
    Channel,
    ChannelTemplate,
    Message,
    MessageStatusEvent,
    PendingReceipt,
    SandboxDelivery,
    Verification,
)

MESSAGE_FIELDS = ("id", "kind", "direction", "address", "text", "content", "purpose", "origin", "status",
                  "created_at", "sent_at", "delivered_at", "read_at", "failed_at", "error_code",
                  "error_reason", "consent_outcome", "consent_rule", "consent_reason")  # fmt: skip
VERIFICATION_FIELDS = ("id", "address", "channels", "locale", "status", "attempts", "sends", "created_at",
                       "expires_at", "approved_at", "client_ip", "country")  # fmt: skip


def identifiers(contact) -> dict:
    """Addresses the person was reached at, including ones the profile no longer holds."""
    messages = Message.objects.filter(contact=contact).values_list("address", flat=True).distinct()
    verifications = Verification.objects.filter(contact=contact).values_list("address", flat=True).distinct()
    return {"strong": [*messages, *verifications]}


def export(contact) -> dict:
    messages = list(
        Message.objects.filter(contact=contact).order_by("created_at", "id").values(*MESSAGE_FIELDS)
    )
    history: dict[int, list] = {}
    for event in (
        MessageStatusEvent.objects.filter(message__contact=contact)
        .order_by("at", "id")
        .values("message_id", "status", "at", "source", "error_code", "detail")
    ):
        history.setdefault(event.pop("message_id"), []).append(event)
    for message in messages:
        message["status_history"] = history.get(message["id"], [])
    return {
        "messages": messages,
        "verifications": list(
            Verification.objects.filter(contact=contact)
            .order_by("created_at", "id")
            .values(*VERIFICATION_FIELDS)
        ),
    }


def erase(subject: Subject) -> dict:
    contact = subject.contact
    messages = Message.objects.filter(contact=contact)
    sent = list(messages.values_list("pk", "reference", "address"))
    provider_ids = [pid for pid in messages.values_list("provider_message_id", flat=True) if pid]
    verifications = Verification.objects.filter(contact=contact)
    subject.rows_erased(Verification, verifications.values_list("pk", flat=True))
    subject.rows_erased(Message, [pk for pk, _, _ in sent])
    verification_count, _ = verifications.delete()
    message_count = len(sent)
    messages.delete()  # with their status events
    # The sandbox plays the provider, keeping what it was sent: by reference, and by address for
    # anything sent to the person outside their messages.
    # (only channels of the sandbox have SandboxDelivery rows: no need to name it)
    channels = Channel.objects.filter(workspace_id=subject.workspace_id)
    addresses = {address for _, _, address in sent if address} | set(subject.strong)
    # Receipts for their messages that came before the send was recorded.
    pending = PendingReceipt.objects.filter(channel__workspace_id=subject.workspace_id).filter(
        Q(reference__in=[reference for _, reference, _ in sent]) | Q(provider_message_id__in=provider_ids)
    )
    pending_count = pending.delete()[0]
    deliveries, _ = (
        SandboxDelivery.objects.filter(channel__in=channels)
        .filter(
            Q(reference__in=[reference for _, reference, _ in sent]) | Q(to_address__in=sorted(addresses))
        )
        .delete()
    )
    return {
        "messages": message_count,
        "verifications": verification_count,
        "sandbox_deliveries": deliveries,
        "pending_receipts": pending_count,
    }


register(
    "channels_app",
    export=export,
    erase=erase,
    covers=[Message, MessageStatusEvent, Verification],
    copies=[SandboxDelivery, PendingReceipt],
    not_personal={
        Channel: "its address is the workspace's own sender number or address",
        ChannelTemplate: "a template's body is the business's approved wording with {{1}} placeholders, "
        "never a person's values",
    },
    identifiers=identifiers,
)
