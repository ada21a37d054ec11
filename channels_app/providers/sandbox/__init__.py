"""The sandbox provider: every channel kind, no account, no internet. What it receives goes to
the phone simulator; its delivery receipts come back through the same status pipeline as a real
provider's, after `receipt_delay_s`.

It can be told, per channel (`Channel.settings["sandbox"]`) or per message
(`options["sandbox"]`), to misbehave so retries and fallback can be shown and tested:

    fail: "30003"          permanent failure with that code
    fail_times: 2          the first 2 attempts answer 503 (transient), then it accepts
    rate_limit_times: 1    the first attempt answers 429 with Retry-After: 1
    timeout_times: 1       the first attempt times out (transient; no real wait)
    answer_lost_times: 1   the first attempt is received but its answer is lost (ambiguous: the
                           sandbox is idempotent, so it is sent again and received once)
    receipt: "delivered" | "failed" | "none"     what the receipt says (none: never comes)
    receipt_delay_s: 1.0   how long after acceptance the receipt comes
    receipt_error: "30005" the error code of a failed receipt
    latency_s: 0.3         how long it takes to answer a send (after it has the message)

Like a provider that takes a client reference, it keys what it received on our reference, so a
message sent twice with the same reference is received once (its idempotency), and its message
id is that reference.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cpaas.jsoninput import json_parse

from ..base import (
    Capabilities,
    CredentialField,
    Inbound,
    MalformedPayload,
    MessageTemplate,
    Outbound,
    Provider,
    SendResult,
    StatusUpdate,
    WebhookRequest,
)

SIGNATURE_HEADER = "x-sandbox-signature"
DEFAULT_RECEIPT_DELAY_S = 0.5

CAPABILITIES = {
    "sms": Capabilities(max_text=1600, media=True),
    "whatsapp": Capabilities(max_text=4096, media=True, buttons=3, quick_replies=10, template=True),
    "rcs": Capabilities(max_text=3072, media=True, buttons=4, quick_replies=11),
    "voice": Capabilities(max_text=3000, voice=True),
    "email": Capabilities(max_text=100_000, media=True, email=True),
    "viber": Capabilities(max_text=7000, media=True, buttons=3),
    "messenger": Capabilities(max_text=2000, media=True, buttons=3, quick_replies=13),
    "push": Capabilities(max_text=1000),
}

# What the sandbox's make-believe WhatsApp account has approved (a real provider's adapter reads
# its account's list). The suggested values are merge fields the composer fills in.
NAME = ("1", "Name", "{{contact.first_name|there}}")
TEMPLATES = [
    MessageTemplate(
        name="conversation_followup",
        language="en",
        body="Hello {{1}}, we have an update about your enquiry. Reply to this message to continue.",
        variables=(NAME,),
    ),
    MessageTemplate(
        name="payment_reminder",
        language="en",
        body="Hi {{1}}, a reminder that {{2}} is due on {{3}}. Reply to talk to us about it.",
        variables=(NAME, ("2", "Amount", ""), ("3", "Due date", "")),
    ),
    MessageTemplate(
        name="callback_request",
        language="en",
        body="Hello {{1}}, we tried to reach you. Reply here or call us back when it suits you.",
        variables=(NAME,),
    ),
]


def new_secret() -> str:
    return secrets.token_hex(24)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def behaviour(channel, options: dict) -> dict:
    return {**(channel.settings or {}).get("sandbox", {}), **(options or {}).get("sandbox", {})}


class SandboxProvider(Provider):
    name = "sandbox"
    label = "Sandbox (phone simulator)"
    kinds = frozenset(CAPABILITIES)
    idempotent = True
    adopts_reference = True
    batch = True
    simulator = True
    needs_address = False  # SANDBOX_ADDRESSES give every kind a made-up sender
    credential_fields = (CredentialField("secret", "Webhook signing secret", help="Generated for you."),)
    setting_fields = (
        CredentialField(
            "sandbox",
            "Simulated faults (JSON, optional)",
            secret=False,
            required=False,
            input="json",
            help='Make it misbehave for testing, e.g. {"fail": "30003"} or {"rate_limit_times": 1}.',
        ),
    )
    setup_help = "Needs no account: what it sends shows on the phone simulator."
    address_help = "Optional: a made-up sender is used when blank."
    default_rates = dict.fromkeys(CAPABILITIES, 100)

    def capabilities(self, kind: str) -> Capabilities:
        return CAPABILITIES[kind]

    def templates(self, channel) -> list[MessageTemplate]:
        return list(TEMPLATES) if CAPABILITIES[channel.kind].template else []

    def generated_credentials(self) -> dict:
        return {"secret": new_secret()}

    # --- sending --------------------------------------------------------------------------

    def _refusal(self, b: dict, attempt: int) -> SendResult | None:
        if b.get("fail"):
            return SendResult.failed(str(b["fail"]), "Sandbox: told to fail this message.")
        if attempt <= int(b.get("rate_limit_times", 0)):
            return SendResult.retry("429", "Sandbox: too many requests.", retry_after_s=1)
        if attempt <= int(b.get("fail_times", 0)):
            return SendResult.retry("503", "Sandbox: service unavailable.")
        if attempt <= int(b.get("timeout_times", 0)) or b.get("timeout") is True:
            return SendResult.retry("timeout", "Sandbox: no answer in time.")
        return None

    def send_batch(self, channel, messages: list[Outbound], now: dt.datetime) -> list[SendResult]:
        from channels_app.models import SandboxDelivery

        results, accepted = [], []
        for m in messages:
            b = behaviour(channel, m.options)
            refusal = self._refusal(b, m.attempt)
            if refusal is not None:
                results.append(refusal)
                continue
            receipt = b.get("receipt", "delivered")
            delay = float(b.get("receipt_delay_s", DEFAULT_RECEIPT_DELAY_S))
            accepted.append(
                SandboxDelivery(
                    channel_id=channel.pk,
                    reference=m.reference,
                    to_address=m.to,
                    content=m.content,
                    received_at=now,
                    receipt_status="" if receipt == "none" else receipt,
                    receipt_error=str(b.get("receipt_error", "30005")) if receipt == "failed" else "",
                    receipt_due_at=None if receipt == "none" else now + dt.timedelta(seconds=delay),
                )
            )
            if m.attempt <= int(b.get("answer_lost_times", 0)):
                results.append(
                    SendResult.unknown("timeout", "Sandbox: took the message; the answer was lost.")
                )
            else:
                results.append(SendResult.accepted(m.reference))
        if accepted:
            # Autocommit, like a provider's own database: what it received stays received even
            # if the dispatcher dies before it records the answer.
            # (a conflict on our reference: sent twice, received once)
            from cpaas.bulk import insert_ignoring_conflicts

            insert_ignoring_conflicts(SandboxDelivery, accepted)
        latency = max((float(behaviour(channel, m.options).get("latency_s", 0)) for m in messages), default=0)
        if latency:  # it has the messages meanwhile; the answer comes late, never past the deadline
            time.sleep(max(0.0, min(latency, 10, min(m.remaining_s() for m in messages))))
        return results

    def send(self, channel, message: Outbound) -> SendResult:
        return self.send_batch(channel, [message], timezone.now())[0]

    # --- receipts -------------------------------------------------------------------------

    def tick(self, now: dt.datetime, apply, limit: int = 1000) -> int:
        """Send the receipts that are due: marked sent and handed to `apply` (the status
        pipeline) in one transaction, so a crash in between leaves them due, not lost."""
        from channels_app.models import SandboxDelivery

        pending = SandboxDelivery.objects.filter(receipt_sent_at__isnull=True, receipt_due_at__lte=now)
        if not pending.exists():  # a plain read first: SQLite's atomic() takes the write lock
            return 0
        with transaction.atomic():
            due = list(
                pending.order_by("receipt_due_at")
                .select_for_update(skip_locked=True)
                .values_list("id", "channel_id", "reference", "receipt_status", "receipt_error")[:limit]
            )
            if not due:
                return 0
            SandboxDelivery.objects.filter(id__in=[row[0] for row in due]).update(receipt_sent_at=now)
            by_channel: dict[int, list[StatusUpdate]] = {}
            for _, channel_id, reference, status, error in due:
                by_channel.setdefault(channel_id, []).append(
                    StatusUpdate(
                        status=status,
                        provider_message_id=reference,
                        reference=reference,  # it echoes ours: found even before the send is recorded
                        at=now,
                        error_code=error,
                        error_reason="Sandbox: the phone did not take it." if error else "",
                        raw_status=status,
                    )
                )
            for channel_id, updates in by_channel.items():
                apply(channel_id, updates)
        return len(due)

    # --- webhooks (the simulator posts these, signed) ---------------------------------------

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        secret = channel.credentials.get("secret", "")
        given = request.headers.get(SIGNATURE_HEADER, "")
        return bool(secret and given) and hmac.compare_digest(sign(secret, request.body), given)

    def _json(self, request: WebhookRequest) -> dict:
        try:
            data = json_parse(request.body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedPayload("The body is not JSON.") from None
        if not isinstance(data, dict):
            raise MalformedPayload("The body must be a JSON object.")
        return data

    def parse_inbound(self, channel, request: WebhookRequest) -> list[Inbound]:
        data = self._json(request)
        for key in ("id", "from"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise MalformedPayload(f"'{key}' is required.")
        text = data.get("text", "")
        if not isinstance(text, str):
            raise MalformedPayload("'text' must be a string.")
        at = parse_datetime(data["at"]) if isinstance(data.get("at"), str) else None
        return [
            Inbound(
                provider_message_id=data["id"],
                from_address=data["from"].strip(),
                to_address=str(data.get("to", channel.address)),
                text=text,
                media_urls=tuple(u for u in data.get("media_urls", []) if isinstance(u, str)),
                button_id=str(data.get("button", "") or ""),
                digits=str(data.get("digits", "") or ""),
                received_at=at,
                raw=data,
            )
        ]

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        data = self._json(request)
        statuses = data.get("statuses")
        if not isinstance(statuses, list) or not statuses:
            raise MalformedPayload("'statuses' must be a non-empty list.")
        updates = []
        for item in statuses:
            if not isinstance(item, dict) or not item.get("id") or not item.get("status"):
                raise MalformedPayload("Each status needs 'id' and 'status'.")
            if item["status"] not in ("sent", "delivered", "read", "failed"):
                raise MalformedPayload(f"Unknown status '{item['status']}'.")
            updates.append(
                StatusUpdate(
                    status=item["status"],
                    provider_message_id=str(item["id"]),
                    error_code=str(item.get("error_code", "")),
                    raw_status=item["status"],
                )
            )
        return updates

    def webhook_response(self, kind: str) -> tuple[str, str]:
        return '{"ok": true}', "application/json"

    def test_credentials(self, channel) -> str:
        if not channel.credentials.get("secret"):
            return "The sandbox works; it has no signing secret yet, so its webhooks are refused."
        return "The sandbox is ready: messages go to the phone simulator."
