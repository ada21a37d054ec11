"""8x8 CPaaS (8x8 Connect) SMS: the seeds' own vendor.

- Send: POST {region host}/api/v1/subaccounts/{subAccountId}/messages with `Authorization:
  Bearer <API key>`, JSON `source`, `destination` (E.164), `text`, `encoding` (GSM7 or UCS2, as
  `segments.py` counts it, so 8x8 bills the parts the page shows), `clientMessageId` = our
  reference, `dlrCallbackUrl` = our status webhook. Answer `{umid, clientMessageId, status{code:
  QUEUED | REJECTED, description}}`; errors `{code, message, errorId, timestamp}`.
  https://developer.8x8.com/connect/reference/send-sms-single ; region hosts: sms.8x8.com
  (Asia-Pacific), sms.us.8x8.com, sms.8x8.uk, sms.8x8.id.
- Not idempotent: `clientMessageId` is "your own unique reference", echoed in receipts, not a
  deduplication key. An ambiguous answer is `unknown`, never sent again; the delivery receipt
  (it carries `clientMessageId`) settles it. 429 and 503 are retried after Retry-After.
- Webhooks `{namespace: "SMS", eventType, description, payload}`: `outbound_message_status_changed`
  (delivery receipts: `status{state, detail, timestamp, errorCode, errorMessage}`) and
  `inbound_message_received`. 8x8 does not sign them: the webhook's "HTTP Authorization" value,
  set in 8x8 Connect (or the Webhooks Configuration API's `httpAuthorization`), comes back as the
  request's Authorization header and is checked in constant time.
  https://developer.8x8.com/connect/docs/developer-tools ,
  https://developer.8x8.com/connect/reference/delivery-receipts-for-outbound-sms ,
  https://developer.8x8.com/connect/reference/inbound-sms
- No official Python SDK: hand-written HTTP through `providers/http.py` (a total deadline).
  (Asking 8x8 about one message, `GET .../messages/{umid}`, is limited to 1 request/s per
  subaccount, so unknown outcomes wait for the receipt instead of being looked up in bursts.)"""

from __future__ import annotations

import urllib.parse

from ... import segments
from .. import common
from ..base import (
    Capabilities,
    CredentialField,
    Inbound,
    MalformedPayload,
    Outbound,
    Provider,
    ProviderError,
    SendResult,
    StatusUpdate,
    WebhookRequest,
)

LABEL = "8x8"
API_BASE = "https://sms.8x8.com"
CAPABILITIES = {"sms": Capabilities(max_text=1600)}
DEFAULT_RATES = {"sms": 1}  # a long-code number carries about one SMS a second
STATES = {"queued": "sent", "sent": "sent", "delivered": "delivered", "read": "read"}
FAILED_STATES = frozenset({"undelivered", "rejected", "failed"})
NIL_UMID = "00000000-0000-0000-0000-000000000000"


class EightByEightProvider(Provider):
    name = "eightbyeight"
    label = "8x8 CPaaS"
    kinds = frozenset(CAPABILITIES)
    default_rates = DEFAULT_RATES
    credential_fields = (
        CredentialField(
            "api_key",
            "API key",
            help="8x8 Connect → Developer tools → API keys.",
            help_url="https://connect.8x8.com/",
        ),
        CredentialField(
            "subaccount_id",
            "Subaccount ID",
            secret=False,
            help="8x8 Connect → Messaging → Subaccounts: the ID of the subaccount that sends.",
            help_url="https://connect.8x8.com/",
            placeholder="DemoBank_12345_hq",
        ),
        CredentialField(
            "webhook_authorization",
            "Webhook HTTP Authorization",
            help="Make up a value such as 'Bearer <a long random string>' and set the same as the "
            "'HTTP Authorization' of both webhooks in 8x8 Connect → Developer tools → Webhooks: "
            "8x8 sends it back with every webhook (it does not sign them).",
            help_url="https://connect.8x8.com/",
            placeholder="Bearer …",
        ),
    )
    setting_fields = (
        CredentialField(
            "api_base",
            "Region's API host (optional)",
            secret=False,
            required=False,
            input="url",
            help="Leave blank for Asia-Pacific (https://sms.8x8.com); North America https://sms.us.8x8.com, "
            "Europe https://sms.8x8.uk, Indonesia https://sms.8x8.id.",
        ),
    )
    setup_help = (
        "Have an API key and the subaccount that sends. Inbound SMS need a virtual number on the "
        "subaccount (ask 8x8 to activate it) and both webhooks set in 8x8 Connect."
    )
    setup_url = "https://connect.8x8.com/"
    address_label = "Sender"
    address_help = (
        "The sender ID (up to 11 letters, where the country allows) or the virtual number in E.164."
    )
    rate_help = "8x8: a long-code SMS number about 1/s; sender IDs and short codes take more."

    def capabilities(self, kind: str) -> Capabilities:
        return CAPABILITIES[kind]

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list:
        from ..base import WebhookURL

        return [
            WebhookURL("Inbound SMS webhook (type: SMS inbound)", inbound),
            WebhookURL(
                "Delivery receipts webhook (type: SMS delivery receipts)",
                status,
                "Each send also names it (dlrCallbackUrl), so receipts arrive either way.",
            ),
        ]

    def _messages_url(self, channel) -> str:
        base = ((channel.settings or {}).get("api_base") or API_BASE).rstrip("/")
        sub = urllib.parse.quote(channel.credentials.get("subaccount_id", ""), safe="")
        return f"{base}/api/v1/subaccounts/{sub}/messages"

    def _auth(self, channel) -> dict:
        return {"Authorization": f"Bearer {channel.credentials.get('api_key', '')}"}

    # --- sending ----------------------------------------------------------------------------

    def body(self, message: Outbound) -> dict:
        text = message.content.get("text", "")
        return {
            "source": message.from_,
            "destination": message.to,
            "text": text,
            "encoding": "GSM7" if segments.is_gsm7(text) else "UCS2",
            "clientMessageId": message.reference,
            "dlrCallbackUrl": message.status_callback_url,
        }

    def send(self, channel, message: Outbound) -> SendResult:
        answer = common.call_json(
            LABEL,
            "POST",
            self._messages_url(channel),
            headers=self._auth(channel),
            payload=self.body(message),
            deadline=message.deadline,
        )
        if isinstance(answer, SendResult):
            return answer
        if not answer.ok:
            return common.refusal(
                LABEL, answer, str(answer.get("code") or ""), str(answer.get("message") or "")
            )
        status = answer.get("status")
        if not answer.get("umid") or not isinstance(status, dict) or not status.get("code"):
            return common.unexpected(LABEL, answer)
        if str(status["code"]).upper() == "REJECTED":
            return SendResult.failed("REJECTED", str(status.get("description") or "Rejected by 8x8.")[:500])
        return SendResult.accepted(str(answer.get("umid"))[:100])

    def test_credentials(self, channel) -> str:
        """8x8 has no "who am I": ask for a message that cannot exist. "Message not found" (404,
        code 1300) proves the key and the subaccount; 401 (code 1200) is a refused key."""
        answer = common.call_json(
            LABEL, "GET", f"{self._messages_url(channel)}/{NIL_UMID}", headers=self._auth(channel)
        )
        if isinstance(answer, SendResult):
            raise ProviderError(answer.error_reason)
        if answer.status == 404 and str(answer.get("code")) == "1300":
            return (
                f"8x8 accepted the API key for subaccount '{channel.credentials.get('subaccount_id', '')}'."
            )
        if answer.status == 401:
            raise ProviderError(f"8x8 refused the API key: {answer.get('message') or 'not authenticated'}.")
        raise ProviderError(
            f"8x8 answered {answer.status} for subaccount '{channel.credentials.get('subaccount_id', '')}': "
            f"{answer.get('message') or answer.excerpt()}"
        )

    # --- webhooks ---------------------------------------------------------------------------

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        return common.header_matches(
            request, "authorization", channel.credentials.get("webhook_authorization", "")
        )

    def _payload(self, request: WebhookRequest, event_type: str) -> dict:
        data = common.json_body(request)
        if data.get("eventType") != event_type:
            raise MalformedPayload(
                f"Expected eventType '{event_type}' here, got '{data.get('eventType')}' "
                "(8x8 sends inbound SMS and delivery receipts to their own webhooks)."
            )
        payload = data.get("payload")
        if not isinstance(payload, dict) or not payload.get("umid"):
            raise MalformedPayload("'payload' with a 'umid' is required.")
        return payload

    def parse_inbound(self, channel, request: WebhookRequest) -> list[Inbound]:
        payload = self._payload(request, "inbound_message_received")
        if not payload.get("source"):
            raise MalformedPayload("'payload.source' is required.")
        return [
            Inbound(
                provider_message_id=str(payload["umid"])[:100],
                from_address=common.e164(str(payload["source"])),
                to_address=common.e164(str(payload.get("destination") or "")),
                text=str(
                    payload.get("text") if payload.get("text") is not None else payload.get("body") or ""
                ),
                received_at=common.parse_time(payload.get("timestamp")),
                raw=payload,
            )
        ]

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        payload = self._payload(request, "outbound_message_status_changed")
        status = payload.get("status") if isinstance(payload.get("status"), dict) else {}
        state, detail = str(status.get("state") or "").lower(), str(status.get("detail") or "")
        if state in FAILED_STATES:
            mapped = "failed"
        elif state in STATES:
            mapped = "sent" if detail == "delivered_to_operator" else STATES[state]
        else:
            raise MalformedPayload(f"Unknown receipt state '{state}'.")
        price = payload.get("price") if isinstance(payload.get("price"), dict) else {}
        failed = mapped == "failed"
        return [
            StatusUpdate(
                status=mapped,
                provider_message_id=str(payload["umid"])[:100],
                reference=str(payload.get("clientMessageId") or request.query.get("ref") or "")[:100],
                at=common.parse_time(status.get("timestamp")),
                error_code=str(status.get("errorCode") or state)[:40] if failed else "",
                error_reason=str(status.get("errorMessage") or detail or "")[:500] if failed else "",
                cost=common.decimal_or_none(price.get("total")),
                cost_currency=str(price.get("currency") or "")[:3],
                raw_status=(f"{state}/{detail}" if detail else state)[:40],
            )
        ]
