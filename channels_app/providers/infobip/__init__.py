"""Infobip: SMS, WhatsApp, Viber and RCS over Infobip's HTTP API.

- Base URL: every account has its own (`xxxxx.api.infobip.com`, shown on the portal's home page);
  auth header `Authorization: App <API key>`.
  https://www.infobip.com/docs/developer-resources/authentication-and-access/api-authentication
- SMS `POST /sms/3/messages`, Viber `POST /viber/2/messages`, RCS `POST /rcs/2/messages`: one
  message with `sender`, `destinations[{to, messageId}]`, `content`, `webhooks.delivery.url` and
  `webhooks.callbackData`. WhatsApp `POST /whatsapp/1/message/{text|image|interactive/buttons}`
  (`from`, `to`, `messageId`, `content`, `callbackData`, `notifyUrl`) and `.../template`
  (`messages[...]`). The answer is acceptance only: its `status` group PENDING (1) is taken,
  REJECTED (5) is a refusal. https://www.infobip.com/docs/developer-resources/api-fundamentals/message-status-codes
- `messageId` is our reference, so every report finds its message even when the send's answer
  was lost. Infobip deduplicates on it only when it has switched idempotency on for the account
  ("ask Infobip to enable it"; a repeat is then rejected during processing, with a report of its
  own): https://www.infobip.com/docs/developer-resources/api-fundamentals/idempotent-message-sending
  We cannot tell whether an account has it, so the adapter is not idempotent: an ambiguous
  answer is `unknown`, never sent again, and the delivery report settles it.
- Webhooks (delivery reports, WhatsApp seen reports, inbound) carry no signature of the body;
  Infobip authenticates to us with the credentials set on the subscription's notification
  profile (security type BASIC: username and password, checked in constant time).
  https://www.infobip.com/docs/api/platform/subscriptions-api/create-profile
- Hand-written HTTP (`providers/http.py`): the official `infobip-api-python-client` (generated
  with urllib3) takes a per-read timeout, not a total deadline.

`settings["api_base"]` is the account's base URL (tests and test mode: the fake)."""

from __future__ import annotations

import base64

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

LABEL = "Infobip"
API_BASE = "https://api.infobip.com"
CAPABILITIES = {
    "sms": Capabilities(max_text=1600),
    "whatsapp": Capabilities(max_text=4096, media=True, buttons=3, template=True),
    "viber": Capabilities(max_text=1000),  # a picture goes as a link in the text
    "rcs": Capabilities(max_text=3072),
}
# Messages per second a new channel starts with (editable): a long-code SMS number about one a
# second, a WhatsApp number Meta's default 80; Viber and RCS conservatively.
DEFAULT_RATES = {"sms": 1, "whatsapp": 80, "viber": 20, "rcs": 20}
GROUPS = {
    "PENDING": "sent",
    "DELIVERED": "delivered",
    "UNDELIVERABLE": "failed",
    "EXPIRED": "failed",
    "REJECTED": "failed",
}
V2_PATHS = {"sms": "/sms/3/messages", "viber": "/viber/2/messages", "rcs": "/rcs/2/messages"}


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _error(answer: common.Answer) -> tuple[str, str]:
    """(code, words) from either error shape Infobip uses."""
    request_error = answer.get("requestError")
    exc = request_error.get("serviceException") if isinstance(request_error, dict) else None
    if isinstance(exc, dict):
        return str(exc.get("messageId") or ""), str(exc.get("text") or "")
    return str(answer.get("errorCode") or ""), str(answer.get("description") or "")


class InfobipProvider(Provider):
    name = "infobip"
    label = "Infobip"
    kinds = frozenset(CAPABILITIES)
    default_rates = DEFAULT_RATES
    credential_fields = (
        CredentialField(
            "api_key",
            "API key",
            help="Developer tools → API keys; it needs the message-sending and account scopes.",
            help_url="https://portal.infobip.com/dev/api-keys",
        ),
        CredentialField(
            "webhook_username",
            "Webhook username",
            secret=False,
            help="Make one up; set the same on the notification profile (Developer tools → "
            "Subscriptions → profile → security: Basic).",
            help_url="https://portal.infobip.com/dev/subscriptions",
        ),
        CredentialField(
            "webhook_password",
            "Webhook password",
            help="A long random value, set with the username on the same notification profile.",
            help_url="https://portal.infobip.com/dev/subscriptions",
        ),
    )
    setting_fields = (
        CredentialField(
            "api_base",
            "Base URL",
            secret=False,
            input="url",
            help="Your account's own base URL, shown on the portal's home page and in the API docs when logged in.",
            help_url="https://portal.infobip.com/",
            placeholder="https://xxxxx.api.infobip.com",
        ),
    )
    setup_help = (
        "Have an API key, your account's base URL and a registered sender (an SMS number or sender "
        "ID, a WhatsApp sender, a Viber service or an RCS agent). Webhooks reach us through a "
        "subscription whose notification profile authenticates with Basic credentials."
    )
    setup_url = "https://portal.infobip.com/"
    address_label = "Sender"
    address_help = "SMS, WhatsApp: the number in E.164 (or an SMS sender ID); Viber: the Viber service name; RCS: the agent ID."
    rate_help = "Infobip: a long-code SMS number about 1/s, a WhatsApp number 80/s (Meta's default)."

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list:
        from ..base import WebhookURL

        return [
            WebhookURL(
                "Inbound messages (subscription for incoming messages, or the number's forwarding)",
                inbound,
                "Authenticated with the webhook username and password above.",
            ),
            WebhookURL(
                "Delivery and seen reports (subscription for delivery reports)",
                status,
                "Each send also names it (webhooks.delivery.url / notifyUrl).",
            ),
        ]

    def senders(self, channel) -> list[tuple[str, str]]:
        """The account's numbers (Numbers API), for the sender picker."""
        answer = common.call_json(
            LABEL, "GET", f"{self._base(channel)}/numbers/1/numbers?limit=100", headers=self._auth(channel)
        )
        if isinstance(answer, SendResult):
            raise ProviderError(answer.error_reason)
        if not answer.ok:
            raise ProviderError(f"Infobip answered {answer.status}: {_error(answer)[1] or answer.excerpt()}")
        numbers = answer.get("numbers")
        if not isinstance(numbers, list):
            return []
        return [
            (f"+{n['number']}", ", ".join(str(c) for c in n.get("capabilities") or []))
            for n in numbers
            if isinstance(n, dict) and str(n.get("number") or "").isdigit()
        ]

    def capabilities(self, kind: str) -> Capabilities:
        return CAPABILITIES[kind]

    def _base(self, channel) -> str:
        return ((channel.settings or {}).get("api_base") or API_BASE).rstrip("/")

    def _auth(self, channel) -> dict:
        return {"Authorization": f"App {channel.credentials.get('api_key', '')}"}

    # --- sending ----------------------------------------------------------------------------

    def request(self, message: Outbound) -> tuple[str, dict]:
        """(path, JSON body) for one message (public: the fake and tests read it)."""
        kind, content, ref = message.kind, message.content, message.reference
        to, sender = common.digits(message.to), common.digits(message.from_)
        text = content.get("text", "")
        if kind in V2_PATHS:
            body_content = {"text": text} if kind == "sms" else {"text": text, "type": "TEXT"}
            return V2_PATHS[kind], {
                "messages": [
                    {
                        "sender": sender,
                        "destinations": [{"to": to, "messageId": ref}],
                        "content": body_content,
                        "webhooks": {
                            "delivery": {"url": message.status_callback_url},
                            "contentType": "application/json",
                            "callbackData": ref,
                        },
                    }
                ]
            }
        common_fields = {
            "from": sender,
            "to": to,
            "messageId": ref,
            "callbackData": ref,
            "notifyUrl": message.status_callback_url,
        }
        template = content.get("template")
        if template:
            variables = template.get("variables") or {}
            placeholders = common.template_values(variables)
            return "/whatsapp/1/message/template", {
                "messages": [
                    {
                        **common_fields,
                        "content": {
                            "templateName": template["name"],
                            "templateData": {"body": {"placeholders": placeholders}},
                            "language": template.get("language") or "en",
                        },
                    }
                ]
            }
        buttons = content.get("buttons") or []
        if buttons:
            return "/whatsapp/1/message/interactive/buttons", {
                **common_fields,
                "content": {
                    "body": {"text": text},
                    "action": {
                        "buttons": [{"type": "REPLY", "id": b["id"], "title": b["title"]} for b in buttons]
                    },
                },
            }
        if content.get("media_url"):
            image = {"mediaUrl": content["media_url"]}
            if text:
                image["caption"] = text
            return "/whatsapp/1/message/image", {**common_fields, "content": image}
        return "/whatsapp/1/message/text", {**common_fields, "content": {"text": text}}

    def send(self, channel, message: Outbound) -> SendResult:
        path, body = self.request(message)
        answer = common.call_json(
            LABEL,
            "POST",
            self._base(channel) + path,
            headers=self._auth(channel),
            payload=body,
            deadline=message.deadline,
        )
        if isinstance(answer, SendResult):
            return answer
        if not answer.ok:
            code, words = _error(answer)
            return common.refusal(LABEL, answer, code, words)
        first = answer.data
        if isinstance(first, dict) and isinstance(first.get("messages"), list) and first["messages"]:
            first = first["messages"][0]
        status = first.get("status") if isinstance(first, dict) else None
        if not isinstance(status, dict) or not first.get("messageId"):
            return common.unexpected(LABEL, answer)
        if GROUPS.get(str(status.get("groupName"))) == "failed":
            return SendResult.failed(
                str(status.get("name") or "REJECTED")[:40],
                str(status.get("description") or "Rejected by Infobip."),
            )
        return SendResult.accepted(str(first["messageId"])[:100])

    def test_credentials(self, channel) -> str:
        answer = common.call_json(
            LABEL, "GET", f"{self._base(channel)}/account/1/balance", headers=self._auth(channel)
        )
        if isinstance(answer, SendResult):
            raise ProviderError(answer.error_reason)
        if answer.status == 401:
            raise ProviderError(f"Infobip refused the API key: {_error(answer)[1] or 'unauthorized'}.")
        if answer.status == 403:
            raise ProviderError(
                "The API key lacks a scope it needs (it must be allowed to read the balance)."
            )
        if not answer.ok or answer.get("balance") is None:
            raise ProviderError(f"Infobip answered {answer.status}: {answer.excerpt()}")
        return f"Infobip account reachable; balance {answer.get('balance')} {answer.get('currency', '')}.".replace(
            " .", "."
        )

    # --- webhooks ---------------------------------------------------------------------------

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        creds = channel.credentials
        user, password = creds.get("webhook_username", ""), creds.get("webhook_password", "")
        return bool(user and password) and common.header_matches(
            request, "authorization", basic(user, password)
        )

    def _results(self, request: WebhookRequest) -> list[dict]:
        results = common.json_body(request).get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise MalformedPayload("Expected 'results': a list of objects.")
        return results

    def parse_inbound(self, channel, request: WebhookRequest) -> list[Inbound]:
        out = []
        for item in self._results(request):
            if not item.get("messageId") or not item.get("from"):
                raise MalformedPayload("Each result needs 'messageId' and 'from'.")
            message = item.get("message") if isinstance(item.get("message"), dict) else None
            text, button, media = str(item.get("text") or ""), "", ()
            if message is not None:  # WhatsApp, Viber, RCS
                kind = str(message.get("type") or "TEXT").upper()
                text = str(message.get("text") or message.get("caption") or "")
                if kind in ("INTERACTIVE_BUTTON_REPLY", "INTERACTIVE_LIST_REPLY"):
                    button, text = str(message.get("id") or ""), str(message.get("title") or "")
                elif kind == "BUTTON":  # a template's quick-reply button
                    button = str(message.get("payload") or "")
                elif kind == "SUGGESTION":  # an RCS suggested reply
                    button = str(message.get("postbackData") or "")
                elif message.get("url"):
                    media = (str(message["url"]),)
            contact = item.get("contact") if isinstance(item.get("contact"), dict) else {}
            out.append(
                Inbound(
                    provider_message_id=str(item["messageId"])[:100],
                    from_address=common.e164(str(item["from"])),
                    to_address=common.e164(str(item.get("to") or "")),
                    text=text,
                    media_urls=media,
                    button_id=button,
                    profile_name=str(contact.get("name") or ""),
                    received_at=common.parse_time(item.get("receivedAt")),
                    raw=item,
                )
            )
        return out

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        updates = []
        for item in self._results(request):
            if not item.get("messageId"):
                raise MalformedPayload("Each report needs 'messageId'.")
            status = item.get("status") if isinstance(item.get("status"), dict) else None
            if status is None and item.get("seenAt"):  # a WhatsApp / Viber seen report
                mapped, raw, at = "read", "SEEN", item.get("seenAt")
            elif status is not None and str(status.get("groupName")) in GROUPS:
                mapped, raw, at = (
                    GROUPS[str(status["groupName"])],
                    str(status.get("name") or ""),
                    item.get("doneAt"),
                )
                if raw == "DELIVERED_TO_OPERATOR":  # the network has it; the handset may not yet
                    mapped = "sent"
            else:
                raise MalformedPayload("A report needs a 'status' with a known 'groupName', or 'seenAt'.")
            error = item.get("error") if isinstance(item.get("error"), dict) else {}
            failing = mapped == "failed"
            real_error = (
                error and str(error.get("groupName") or "") != "OK" and error.get("id") not in (0, "0")
            )
            price = item.get("price") if isinstance(item.get("price"), dict) else {}
            updates.append(
                StatusUpdate(
                    status=mapped,
                    provider_message_id=str(item["messageId"])[:100],
                    reference=str(item.get("callbackData") or item["messageId"])[:100],
                    at=common.parse_time(at),
                    error_code=(str(error.get("name")) if real_error else raw if failing else "")[:40],
                    error_reason=str(
                        (
                            error.get("description")
                            if real_error
                            else status.get("description")
                            if failing
                            else ""
                        )
                        or ""
                    )[:500],
                    cost=common.decimal_or_none(price.get("pricePerMessage")),
                    cost_currency=str(price.get("currency") or "")[:3],
                    raw_status=raw[:40],
                )
            )
        return updates
