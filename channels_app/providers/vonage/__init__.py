"""Vonage Messages API (v1): SMS, WhatsApp, Viber, Messenger and RCS through one endpoint.

- Send: POST {api_base}/v1/messages, flat JSON (`channel`, `message_type`, `to`, `from` in E.164
  without '+', the content object, `client_ref` = our reference, `webhook_url` = our status
  webhook), authorised with a JWT (RS256, the Vonage Application's private key). Answer 202
  `{"message_uuid"}`; errors are RFC 7807 (`type` ends in `#<code>`, `title`, `detail`).
  https://developer.vonage.com/en/api/messages
- Not idempotent: Vonage documents no idempotency key (`client_ref` is only echoed back), so an
  answer that may hide an accepted message is `unknown`, never sent again; the status webhook
  carries `client_ref` and settles it. 429 and 503 are retried after Retry-After.
- Webhooks (inbound and status) are signed: `Authorization: Bearer <JWT>` signed HS256 with the
  account's signature secret, whose `payload_hash` claim is the SHA-256 of the body and `iat`
  when it was signed. https://developer.vonage.com/en/getting-started/concepts/webhooks#decoding-signed-webhooks
  We check them with PyJWT, which is all the official SDK's `vonage_jwt.verify_signature` does
  (a bare `jwt.decode(token, secret, algorithms="HS256")`, without the body hash or the age).
- Hand-written HTTP (`providers/http.py`), not the `vonage` SDK (4.x): its HTTP client has only a
  per-read timeout, and it repeats a request whose connection dropped after it was written
  (RemoteDisconnected, up to 10 times), which could send a message twice.

`settings["api_base"]` points the adapter at another host (tests and test mode: the fake)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import urllib.parse
import uuid

import jwt

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

LABEL = "Vonage"
API_BASE = "https://api.nexmo.com"
REST_BASE = "https://rest.nexmo.com"  # the Numbers API
SIGNED_WEBHOOK_MAX_AGE_S = 300  # a signed webhook older than this is a replay, not a delivery
JWT_LIFETIME_S = 900

CHANNEL = {
    "sms": "sms",
    "whatsapp": "whatsapp",
    "viber": "viber_service",
    "messenger": "messenger",
    "rcs": "rcs",
}
KIND = {v: k for k, v in CHANNEL.items()}
PHONE_KINDS = frozenset({"sms", "whatsapp", "viber", "rcs"})  # Messenger ids are page-scoped ids
# Limits from the Messages API models (github.com/Vonage/vonage-python-sdk, messages/models).
CAPABILITIES = {
    "sms": Capabilities(max_text=1000),
    "whatsapp": Capabilities(max_text=4096, media=True, buttons=3, template=True),
    # Only WhatsApp images carry a caption: elsewhere a picture goes as a link in the text.
    "viber": Capabilities(max_text=1000),
    "messenger": Capabilities(max_text=640),
    "rcs": Capabilities(max_text=3072, buttons=4),
}
# Messages per second a new channel starts with (editable): a long-code SMS number carries about
# one a second; WhatsApp numbers start at Meta's 80/s; the Messages API's own default is 30
# requests/s per account, which bounds the OTT channels.
DEFAULT_RATES = {"sms": 1, "whatsapp": 80, "viber": 30, "messenger": 30, "rcs": 30}
STATUS = {
    "submitted": "sent",
    "delivered": "delivered",
    "read": "read",
    "rejected": "failed",
    "undeliverable": "failed",
}
MEDIA = ("image", "video", "audio", "file", "sticker")


def pem(key: str) -> str:
    """A private key pasted into a one-line field loses its line breaks: put them back."""
    key = key.strip()
    found = re.fullmatch(r"-----BEGIN ([A-Z ]+)-----(.*)-----END \1-----", key, re.S)
    if "\n" in key or not found:
        return key
    label, body = found.group(1), "".join(found.group(2).split())
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def error_code(error: dict) -> str:
    """Vonage's numeric code: the `#1320` at the end of `type`, else the `title` when numeric."""
    kind = str(error.get("type") or "")
    if "#" in kind:
        return kind.rsplit("#", 1)[1][:40]
    title = str(error.get("title") or "")
    return title[:40] if title.isdigit() else ""


class VonageProvider(Provider):
    name = "vonage"
    label = "Vonage"
    kinds = frozenset(CAPABILITIES)
    default_rates = DEFAULT_RATES
    credential_fields = (
        CredentialField(
            "application_id",
            "Application ID",
            secret=False,
            help="Applications → your application (Messages capability on): the ID under its name.",
            help_url="https://dashboard.nexmo.com/applications",
            placeholder="78d335fa-323d-0114-9c3d-d6f0d48968cf",
        ),
        CredentialField(
            "private_key",
            "Application private key",
            help="The private.key file downloaded when the application's keys were generated "
            "(paste it whole, BEGIN and END lines included).",
            help_url="https://dashboard.nexmo.com/applications",
            placeholder="-----BEGIN PRIVATE KEY----- …",
        ),
        CredentialField(
            "api_key",
            "API key",
            secret=False,
            help="API settings, top of the page.",
            help_url="https://dashboard.nexmo.com/settings",
        ),
        CredentialField(
            "api_secret",
            "API secret",
            help="API settings → API secrets (used to test the connection and list the numbers).",
            help_url="https://dashboard.nexmo.com/settings",
        ),
        CredentialField(
            "signature_secret",
            "Signature secret",
            help="API settings → Signature secret: it signs every webhook Vonage sends.",
            help_url="https://dashboard.nexmo.com/settings",
        ),
    )
    setting_fields = (
        CredentialField(
            "api_base",
            "API base URL (optional)",
            secret=False,
            required=False,
            input="url",
            help=f"Leave blank for {API_BASE}.",
        ),
    )
    setup_help = (
        "Create a Vonage Application with the Messages capability, generate its keys (keep the "
        "private.key file) and link your number or sender to it. Switch the account's SMS setting "
        "to 'Messages API' so inbound SMS reach the application."
    )
    setup_url = "https://dashboard.nexmo.com/applications"
    address_label = "Sender"
    address_help = (
        "SMS, WhatsApp: the number in E.164 (+447700900123); Viber: the Viber service ID; "
        "Messenger: the Facebook Page ID; RCS: the RCS agent ID."
    )
    rate_help = (
        "Vonage: the Messages API takes 30 requests/s per account; a long-code SMS number about 1/s, "
        "a WhatsApp number 80/s."
    )

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list:
        from ..base import WebhookURL

        return [
            WebhookURL("Inbound URL (Application → Messages capability)", inbound),
            WebhookURL(
                "Status URL (Application → Messages capability)",
                status,
                "Each send also names it (webhook_url), so receipts arrive either way.",
            ),
        ]

    def senders(self, channel) -> list[tuple[str, str]]:
        """The account's numbers (Numbers API), for the sender picker."""
        base = (channel.settings or {}).get("api_base") or REST_BASE
        answer = common.call_json(
            LABEL,
            "GET",
            f"{base.rstrip('/')}/account/numbers?size=100",
            headers={"Authorization": self._basic(channel)},
        )
        if isinstance(answer, SendResult):
            raise ProviderError(answer.error_reason)
        if not answer.ok:
            raise ProviderError(f"Vonage answered {answer.status}.")
        numbers = answer.get("numbers")
        if not isinstance(numbers, list):
            return []
        return [
            (f"+{n['msisdn']}", " ".join(str(x) for x in (n.get("country"), n.get("type")) if x))
            for n in numbers
            if isinstance(n, dict) and str(n.get("msisdn") or "").isdigit()
        ]

    def capabilities(self, kind: str) -> Capabilities:
        return CAPABILITIES[kind]

    # --- HTTP -------------------------------------------------------------------------------

    def _base(self, channel) -> str:
        return ((channel.settings or {}).get("api_base") or API_BASE).rstrip("/")

    def _bearer(self, channel) -> str:
        creds = channel.credentials
        now = int(time.time())
        claims = {
            "application_id": creds.get("application_id", ""),
            "iat": now,
            "exp": now + JWT_LIFETIME_S,
            "jti": str(uuid.uuid4()),
        }
        return "Bearer " + jwt.encode(claims, pem(creds.get("private_key", "")), algorithm="RS256")

    def _basic(self, channel) -> str:
        creds = channel.credentials
        pair = f"{creds.get('api_key', '')}:{creds.get('api_secret', '')}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    # --- sending ----------------------------------------------------------------------------

    def body(self, message: Outbound) -> dict:
        """The Messages API request for one message (public: the fake and tests read it)."""
        kind, content = message.kind, message.content
        to = common.digits(message.to) if kind in PHONE_KINDS else message.to
        sender = common.digits(message.from_) if kind in PHONE_KINDS else message.from_
        body = {
            "channel": CHANNEL[kind],
            "to": to,
            "from": sender,
            "client_ref": message.reference,
            "webhook_url": message.status_callback_url,
        }
        text = content.get("text", "")
        template = content.get("template")
        buttons = content.get("buttons") or []
        if kind == "whatsapp" and template:
            variables = template.get("variables") or {}
            body.update(
                message_type="template",
                template={
                    "name": template["name"],
                    "parameters": common.template_values(variables),
                },
                whatsapp={"policy": "deterministic", "locale": template.get("language") or "en"},
            )
        elif kind == "whatsapp" and buttons:
            body.update(
                message_type="custom",
                custom={
                    "type": "interactive",
                    "interactive": {
                        "type": "button",
                        "body": {"text": text},
                        "action": {
                            "buttons": [
                                {"type": "reply", "reply": {"id": b["id"], "title": b["title"]}}
                                for b in buttons
                            ]
                        },
                    },
                },
            )
        elif kind == "rcs" and buttons:
            body.update(
                message_type="custom",
                custom={
                    "contentMessage": {
                        "text": text,
                        "suggestions": [
                            {"reply": {"text": b["title"], "postbackData": b["id"]}} for b in buttons
                        ],
                    }
                },
            )
        elif content.get("media_url") and kind == "whatsapp":
            media = {"url": content["media_url"]}
            if text:
                media["caption"] = text
            body.update(message_type="image", image=media)
        else:
            body.update(message_type="text", text=text)
        if kind == "viber":
            body["viber_service"] = {"category": "transaction"}
        if kind == "messenger":
            body["messenger"] = {"category": "response"}
        return body

    def send(self, channel, message: Outbound) -> SendResult:
        try:
            authorization = self._bearer(channel)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            return SendResult.failed(
                "credentials", f"The Vonage application's private key is unusable: {exc}."
            )
        answer = common.call_json(
            LABEL,
            "POST",
            f"{self._base(channel)}/v1/messages",
            headers={"Authorization": authorization},
            payload=self.body(message),
            deadline=message.deadline,
        )
        if isinstance(answer, SendResult):
            return answer
        if answer.ok:
            uuid_ = answer.get("message_uuid")
            if not isinstance(uuid_, str) or not uuid_:
                return common.unexpected(LABEL, answer)
            return SendResult.accepted(uuid_)
        if not isinstance(answer.data, dict):
            return common.refusal(LABEL, answer, "", "")
        title, detail = str(answer.get("title") or ""), str(answer.get("detail") or "")
        reason = f"{title}: {detail}" if title and detail else (title or detail)
        return common.refusal(LABEL, answer, error_code(answer.data), reason)

    def test_credentials(self, channel) -> str:
        try:
            self._bearer(channel)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ProviderError(f"The private key is not a usable PEM key: {exc}.") from None
        app_id = channel.credentials.get("application_id", "")
        answer = common.call_json(
            LABEL,
            "GET",
            f"{self._base(channel)}/v2/applications/{urllib.parse.quote(app_id)}",
            headers={"Authorization": self._basic(channel)},
        )
        if isinstance(answer, SendResult):
            raise ProviderError(answer.error_reason)
        if answer.status == 401:
            raise ProviderError("Vonage refused the API key and secret (401 Unauthorized).")
        if answer.status == 404:
            raise ProviderError(f"Vonage has no application '{app_id}' on this account.")
        if not answer.ok:
            raise ProviderError(f"Vonage answered {answer.status}: {answer.excerpt()}")
        messages = (
            ((answer.get("capabilities") or {}).get("messages")) if isinstance(answer.data, dict) else None
        )
        note = "" if messages else " Its Messages capability is off: switch it on to receive webhooks."
        return f"Vonage application '{answer.get('name', app_id)}' is reachable.{note}"

    # --- webhooks ---------------------------------------------------------------------------

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        secret = channel.credentials.get("signature_secret", "")
        header = request.headers.get("authorization", "")
        if not secret or not header.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(
                header.removeprefix("Bearer ").strip(),
                secret,
                algorithms=["HS256"],
                options={"require": ["iat"]},
            )
        except jwt.PyJWTError:
            return False
        if abs(time.time() - float(claims["iat"])) > SIGNED_WEBHOOK_MAX_AGE_S:
            return False
        key = channel.credentials.get("api_key", "")
        if claims.get("api_key") and key and claims["api_key"] != key:
            return False
        digest = hashlib.sha256(request.body).hexdigest()
        return hmac.compare_digest(str(claims.get("payload_hash") or ""), digest)

    def parse_inbound(self, channel, request: WebhookRequest) -> list[Inbound]:
        data = common.json_body(request)
        uuid_, sender = data.get("message_uuid"), _address(data.get("from"))
        if not uuid_ or not sender:
            raise MalformedPayload("'message_uuid' and 'from' are required.")
        kind = KIND.get(str(data.get("channel") or ""), channel.kind)
        phone = kind in PHONE_KINDS
        message_type = str(data.get("message_type") or "text")
        text, button, media = str(data.get("text") or ""), "", ()
        if message_type in MEDIA:
            item = _obj(data, message_type)
            if not item.get("url"):
                raise MalformedPayload(f"'{message_type}' needs a 'url'.")
            media = (str(item["url"]),)
            text = text or str(item.get("caption") or item.get("name") or "")
        elif message_type == "reply":  # a WhatsApp reply button / list row, an RCS suggestion
            reply = _obj(data, "reply")
            button, text = str(reply.get("id") or ""), str(reply.get("title") or "")
        elif message_type == "button":  # a WhatsApp template's quick-reply button
            pressed = _obj(data, "button")
            button, text = str(pressed.get("payload") or ""), str(pressed.get("text") or "")
        profile = _obj(data, "profile")
        return [
            Inbound(
                provider_message_id=str(uuid_)[:100],
                from_address=common.e164(sender) if phone else sender,
                to_address=common.e164(_address(data.get("to"))) if phone else _address(data.get("to")),
                text=text,
                media_urls=media,
                button_id=button,
                profile_name=str(profile.get("name") or ""),
                received_at=common.parse_time(data.get("timestamp")),
                raw=data,
            )
        ]

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        data = common.json_body(request)
        raw = str(data.get("status") or "")
        if not data.get("message_uuid") or raw not in STATUS:
            raise MalformedPayload("Expected 'message_uuid' and a known 'status'.")
        error, usage = _obj(data, "error"), _obj(data, "usage")
        return [
            StatusUpdate(
                status=STATUS[raw],
                provider_message_id=str(data["message_uuid"])[:100],
                reference=str(data.get("client_ref") or request.query.get("ref") or ""),
                at=common.parse_time(data.get("timestamp")),
                error_code=error_code(error) or (raw if STATUS[raw] == "failed" else ""),
                error_reason=str(error.get("detail") or error.get("title") or "")[:500],
                cost=common.decimal_or_none(usage.get("price")),
                cost_currency=str(usage.get("currency") or "")[:3],
                raw_status=raw,
            )
        ]


def _obj(data: dict, key: str) -> dict:
    """A nested object, or {} when it is missing or not an object."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _address(value) -> str:
    """`from`/`to` are strings in v1 webhooks; some channels send `{"id": ...}` or `{"number": ...}`."""
    if isinstance(value, dict):
        value = value.get("number") or value.get("id") or ""
    return str(value or "")
