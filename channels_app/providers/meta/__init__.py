"""Meta WhatsApp Cloud API (Graph API), as Meta documents it (docs/channels.md, "Meta").

- Send: POST /<version>/<phone-number-id>/messages, JSON, `Authorization: Bearer <system-user
  token>`; text, media (image, video, audio, document by link), interactive reply buttons (up
  to 3) and lists (4 to 10 options), templates with body variables. The answer only says Meta
  took it (`messages[0].id`, a wamid); delivery comes by webhook. Our reference rides along as
  `biz_opaque_callback_data`, which every status webhook echoes, so a receipt finds its message
  even before the wamid is recorded.
- There is no well-kept official Python SDK for the Cloud API (Meta's `facebook-business` covers
  the Marketing API, not WhatsApp messaging; the community wrappers carry no total deadline), so
  this is plain HTTP through `providers/http.py`: a total deadline per call and an honest
  not-sent / ambiguous split.
- The Graph API takes no idempotency key: an answer that may hide an accepted message (a
  timeout after the request was written, a reset, a 5xx) is `unknown`, never sent again; the
  status webhook (it carries our reference) settles it.
- Throttling (130429 throughput, 131056 pair rate, 80007 and 4 / 613 app rate limits, HTTP 429)
  is retried; 131047 (more than 24 h since the contact's last message) fails with consent's own
  rule name, `whatsapp.window`, so the inbox, journeys and fallbacks read it as the window.
- Webhooks: one callback URL (`/webhooks/meta/<token>/`): GET answers the hub.challenge when
  hub.verify_token matches; POSTs carry `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
  the app secret, compared in constant time) and batch messages, statuses and template reviews.
- Unexpected answer shapes are failures with the answer kept in the reason, never a crash.

`settings["api_base"]` points the adapter at another host (tests and `make run`'s test mode use
the fake Graph API in fake.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import urllib.parse

from ... import conf
from .. import http
from ..base import (
    WINDOW_CLOSED,
    Capabilities,
    CredentialField,
    Inbound,
    MalformedPayload,
    MessageTemplate,
    Outbound,
    Provider,
    ProviderError,
    SendResult,
    StatusUpdate,
    WebhookEvents,
    WebhookRequest,
    WebhookURL,
)

log = logging.getLogger(__name__)
API_BASE = "https://graph.facebook.com"
API_VERSION = "v23.0"
CAPABILITIES = {
    # buttons: up to 3 as reply buttons, 4 to 10 as a list message
    "whatsapp": Capabilities(max_text=4096, media=True, buttons=10, quick_replies=10, template=True),
}
STATUS = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
THROTTLED = {"4", "613", "80007", "130429", "131056", "131048", "131057"}  # retry later
WINDOW_CODES = {"131047", "470"}  # re-engagement: outside the 24-hour customer service window
TEMPLATE_STATUS = {  # Meta's review events -> ours (lower case; anything else kept as given)
    "APPROVED": "approved",
    "REINSTATED": "approved",
    "PENDING": "pending",
    "IN_APPEAL": "pending",
    "REJECTED": "rejected",
    "PAUSED": "paused",
    "FLAGGED": "flagged",
    "DISABLED": "disabled",
    "DELETED": "deleted",
    "PENDING_DELETION": "deleted",
    "ARCHIVED": "archived",
    "LOCKED": "locked",
    "LIMIT_EXCEEDED": "limit_exceeded",
}
MEDIA_TYPES = (
    ("image", (".jpg", ".jpeg", ".png", ".webp")),
    ("video", (".mp4", ".3gp")),
    ("audio", (".mp3", ".ogg", ".aac", ".amr", ".m4a", ".opus")),
)
INBOUND_MEDIA = ("image", "video", "audio", "document", "sticker")
THROUGHPUT = (
    ("80", "Standard: 80 messages/s (Meta's default for a registered number)"),
    ("1000", "High: 1,000 messages/s (upgraded by Meta for high-volume numbers)"),
    ("20", "Coexistence: 20 messages/s (a number shared with the WhatsApp Business app)"),
)


def _obj(value) -> dict:
    """A part that should be an object: anything else reads as empty (a bad shape becomes a
    missing field and MalformedPayload, never a crash)."""
    return value if isinstance(value, dict) else {}


def _short(value, limit: int = 100) -> bool:
    """A present scalar id that fits our columns (Meta's wamids are about 60 characters)."""
    return isinstance(value, str | int) and not isinstance(value, bool) and 0 < len(str(value)) <= limit


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _e164(number: str) -> str:
    digits = re.sub(r"\D", "", number or "")
    return f"+{digits}" if digits else ""


def _media_type(url: str) -> str:
    path = urllib.parse.urlsplit(url).path.lower()
    for kind, endings in MEDIA_TYPES:
        if path.endswith(endings):
            return kind
    return "document"


def _variables(variables) -> list[str]:
    """Template variables in Meta's order: {"1": a, "2": b} or [a, b]."""
    if isinstance(variables, list):
        return [str(v) for v in variables]
    if isinstance(variables, dict):

        def order(key):
            return (0, int(key)) if str(key).isdigit() else (1, str(key))

        return [str(variables[k]) for k in sorted(variables, key=order)]
    return []


def message_body(message: Outbound) -> dict:
    """The Graph API body for one message (FIELD.md §1; Meta's "messages" reference)."""
    content = message.content
    body: dict = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to.lstrip("+"),
        "biz_opaque_callback_data": message.reference,
    }
    text = content.get("text", "")
    template = content.get("template")
    options = content.get("buttons") or content.get("quick_replies") or []
    media = content.get("media_url", "")
    if template:
        values = _variables(template.get("variables"))
        components = []
        if values:
            components.append({"type": "body", "parameters": [{"type": "text", "text": v} for v in values]})
        if media:
            kind = _media_type(media)
            components.insert(0, {"type": "header", "parameters": [{"type": kind, kind: {"link": media}}]})
        body["type"] = "template"
        body["template"] = {
            "name": template["name"],
            "language": {"code": template.get("language") or "en"},
            **({"components": components} if components else {}),
        }
    elif options:
        interactive: dict = {"body": {"text": text or " "}}
        if len(options) <= 3:
            interactive["type"] = "button"
            interactive["action"] = {
                "buttons": [{"type": "reply", "reply": {"id": o["id"], "title": o["title"]}} for o in options]
            }
            if media and _media_type(media) in ("image", "video", "document"):
                kind = _media_type(media)
                interactive["header"] = {"type": kind, kind: {"link": media}}
        else:
            interactive["type"] = "list"
            interactive["action"] = {
                "button": "Choose",
                "sections": [
                    {"title": "Options", "rows": [{"id": o["id"], "title": o["title"][:24]} for o in options]}
                ],
            }
        body["type"] = "interactive"
        body["interactive"] = interactive
    elif media:
        kind = _media_type(media)
        body["type"] = kind
        body[kind] = {"link": media, **({"caption": text} if text and kind != "audio" else {})}
    else:
        body["type"] = "text"
        body["text"] = {"body": text, "preview_url": "http://" in text or "https://" in text}
    return body


def _error(data: dict) -> tuple[str, str]:
    """(code, reason in words) of a Graph API error body."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code = str(error.get("code") or "")
    details = str(_obj(error.get("error_data")).get("details", ""))
    reason = str(error.get("message") or error.get("title") or "error")
    if details and details not in reason:
        reason = f"{reason}: {details}"
    return code, reason


def _window(code: str, reason: str) -> tuple[str, str]:
    if code in WINDOW_CODES:
        return WINDOW_CLOSED, (
            f"Meta refused a free-form message: more than 24 hours since the contact's last message "
            f"({code} {reason}); send an approved template."
        )
    return code, reason


class MetaProvider(Provider):
    name = "meta"
    label = "Meta WhatsApp Cloud API"
    kinds = frozenset(CAPABILITIES)
    credential_fields = (
        CredentialField(
            "access_token",
            "Access token (system user)",
            help="A permanent token of a system user with whatsapp_business_messaging and "
            "whatsapp_business_management: Business settings → Users → System users → Generate new token.",
            help_url="https://business.facebook.com/settings/system-users",
        ),
        CredentialField(
            "app_secret",
            "App secret",
            help="Signs Meta's webhooks (X-Hub-Signature-256): your app → App settings → Basic → App secret.",
            help_url="https://developers.facebook.com/apps/",
        ),
    )
    setting_fields = (
        CredentialField(
            "phone_number_id",
            "Phone number ID",
            secret=False,
            help="Not the number itself: WhatsApp → API Setup in your app shows it under the number.",
            help_url="https://developers.facebook.com/apps/",
            placeholder="106540352242922",
        ),
        CredentialField(
            "waba_id",
            "WhatsApp Business Account ID",
            secret=False,
            help="On the same API Setup page; lists the account's numbers and templates.",
            help_url="https://business.facebook.com/wa/manage/home/",
            placeholder="102290129340398",
        ),
        CredentialField(
            "verify_token",
            "Webhook verify token",
            secret=False,
            help="Made up for you: paste it with the callback URL in WhatsApp → Configuration → Webhook.",
        ),
        CredentialField(
            "throughput",
            "Throughput tier",
            secret=False,
            required=False,
            input="choice",
            choices=THROUGHPUT,
            help="Sets the default rate: Meta answers 130429 above the number's throughput.",
        ),
        CredentialField(
            "api_version", "Graph API version", secret=False, required=False, placeholder=API_VERSION
        ),
        CredentialField(
            "api_base",
            "API base URL (optional)",
            secret=False,
            required=False,
            input="url",
            help=f"Leave blank for {API_BASE}; the local fake Graph API in test mode.",
        ),
    )
    setup_help = (
        "Have a Meta app with the WhatsApp product, a registered business number, a system-user "
        "access token and the app secret. Save, then paste the callback URL and verify token into "
        "the app's WhatsApp → Configuration and subscribe to the messages and "
        "message_template_status_update fields."
    )
    setup_url = "https://developers.facebook.com/apps/"
    address_label = "WhatsApp number"
    address_help = "The business number in E.164, e.g. +15550001234 (Test connection lists the account's)."
    rate_help = (
        "Meta: 80/s per number by default, 1,000/s after an upgrade, 20/s when shared with the Business app."
    )

    def capabilities(self, kind: str) -> Capabilities:
        return CAPABILITIES[kind]

    def default_rate(self, kind: str, settings: dict) -> int:
        try:
            return int(settings.get("throughput") or 80)
        except ValueError:
            return 80

    def generated_settings(self) -> dict:
        return {"verify_token": secrets.token_urlsafe(18)}

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list[WebhookURL]:
        return [
            WebhookURL(
                "Callback URL",
                events,
                "Messages, delivery statuses and template reviews all come here; Meta checks it with "
                "the verify token (above) before it sends anything.",
            )
        ]

    # --- HTTP -----------------------------------------------------------------------------

    def _url(self, channel, path: str, query: dict | None = None) -> str:
        settings = channel.settings or {}
        base = (settings.get("api_base") or API_BASE).rstrip("/")
        version = settings.get("api_version") or API_VERSION
        url = f"{base}/{version}/{path.lstrip('/')}"
        return url + ("?" + urllib.parse.urlencode(query) if query else "")

    def _call(
        self, channel, method: str, url: str, payload: dict | None = None, deadline: float | None = None
    ):
        """(status, headers, parsed body or None, raw body); http.NotSent / http.Ambiguous."""
        headers = {
            "Authorization": f"Bearer {channel.credentials.get('access_token', '')}",
            "Accept": "application/json",
        }
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        if deadline is None:
            deadline = time.monotonic() + float(conf.get("CHANNELS_SEND_DEADLINE_S"))
        status, answer_headers, raw = http.call(method, url, headers=headers, body=data, deadline=deadline)
        try:
            parsed = json.loads(raw or b"null")
        except ValueError:
            parsed = None
        return status, answer_headers, parsed if isinstance(parsed, dict) else None, raw

    def _get(self, channel, path: str, query: dict | None = None) -> dict:
        """A read for setup (credentials, numbers, templates): the body, or ProviderError in words."""
        creds = channel.credentials
        query = dict(query or {})
        if creds.get("app_secret") and creds.get("access_token"):
            # proves the app secret too: Graph refuses a wrong appsecret_proof (error 100)
            query["appsecret_proof"] = hmac.new(
                creds["app_secret"].encode(), creds["access_token"].encode(), hashlib.sha256
            ).hexdigest()
        try:
            status, _, body, raw = self._call(channel, "GET", self._url(channel, path, query))
        except http.Refused as exc:
            raise ProviderError(f"The API base URL may not be called: {exc}.") from None
        except (http.NotSent, http.Ambiguous) as exc:
            raise ProviderError(f"Could not reach Meta: {exc}.") from None
        if body is None:
            raise ProviderError(
                f"Meta answered HTTP {status} with something that is not JSON: {raw[:200]!r}."
            )
        if status != 200:
            code, reason = _error(body)
            raise ProviderError(self._in_words(code, reason, path) or f"Meta answered HTTP {status}.")
        return body

    @staticmethod
    def _in_words(code: str, reason: str, path: str) -> str:
        if code == "190":
            return f"Meta refused the access token: {reason} (190). Generate a new system-user token."
        if code == "100" and "appsecret_proof" in reason:
            return f"The app secret does not belong to this token's app: {reason} (100)."
        if code in ("100", "803"):
            return f"Meta does not know '{path.split('/')[0]}' with this token: {reason} ({code}). Check the IDs."
        if code in ("10", "200"):
            return f"The token lacks a permission: {reason} ({code}). Give the system user the WhatsApp permissions."
        return f"Meta refused: {reason} ({code})." if code else ""

    # --- sending --------------------------------------------------------------------------

    def send(self, channel, message: Outbound) -> SendResult:
        phone_id = (channel.settings or {}).get("phone_number_id", "")
        url = self._url(channel, f"{urllib.parse.quote(str(phone_id))}/messages")
        try:
            status, headers, body, raw = self._call(
                channel, "POST", url, message_body(message), deadline=message.deadline
            )
        except http.Refused as exc:
            return SendResult.failed("refused", f"The channel's API base may not be called: {exc}.")
        except http.NotSent as exc:
            return SendResult.retry("network", f"Could not reach Meta: {exc}")
        except http.Ambiguous as exc:
            return SendResult.unknown("no_answer", f"Meta took the request but gave no answer: {exc}.")
        return self._result(status, headers, body, raw)

    def _result(self, status: int, headers: dict, body: dict | None, raw: bytes) -> SendResult:
        shown = raw[:300].decode(errors="replace")
        if 200 <= status < 300:
            messages = (body or {}).get("messages")
            wamid = (
                messages[0].get("id")
                if isinstance(messages, list) and messages and isinstance(messages[0], dict)
                else None
            )
            if not isinstance(wamid, str) or not wamid:
                log.warning("Meta answered %s without a message id: %r", status, raw[:4000])
                return SendResult.failed(
                    "unexpected_answer", f"Meta answered HTTP {status} without a message id: {shown}"
                )
            return SendResult.accepted(wamid)
        code, reason = _error(body or {})
        retry_after = None
        header = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        if status == 429 or code in THROTTLED:
            return SendResult.retry(
                code or str(status), f"Meta throttled it: {reason or status}", retry_after
            )
        if status >= 500:  # the Graph API may have taken it: without an idempotency key, not again
            return SendResult.unknown(str(status), f"Meta answered {status} ({reason or shown}).")
        if not code:
            log.warning("Meta answered %s with an unexpected body: %r", status, raw[:4000])
            return SendResult.failed(str(status), f"Meta answered HTTP {status}: {shown}")
        return SendResult.failed(*_window(code, reason))

    # --- setup ----------------------------------------------------------------------------

    def test_credentials(self, channel) -> str:
        settings = channel.settings or {}
        phone_id = settings.get("phone_number_id")
        if not phone_id:
            raise ProviderError("Fill in the Phone number ID first.")
        number = self._get(
            channel,
            str(phone_id),
            {"fields": "display_phone_number,verified_name,quality_rating,code_verification_status"},
        )
        text = (
            f"Meta knows {number.get('display_phone_number', '?')} "
            f"({number.get('verified_name', 'no verified name')}), quality {number.get('quality_rating', 'unknown')}."
        )
        if settings.get("waba_id"):
            self._get(channel, str(settings["waba_id"]), {"fields": "name"})
            text += " The WhatsApp Business Account answers."
        return text

    def senders(self, channel) -> list[tuple[str, str]]:
        waba = (channel.settings or {}).get("waba_id")
        if not waba:
            return []
        body = self._get(channel, f"{waba}/phone_numbers", {"fields": "display_phone_number,verified_name"})
        rows = _list(body.get("data"))
        return [
            (
                _e164(str(r.get("display_phone_number", ""))),
                f"{r.get('verified_name', '')} (phone number ID {r.get('id')})",
            )
            for r in rows
            if isinstance(r, dict) and r.get("display_phone_number")
        ]

    def fetch_templates(self, channel) -> list[MessageTemplate]:
        waba = (channel.settings or {}).get("waba_id")
        if not waba:
            raise ProviderError("Fill in the WhatsApp Business Account ID to read its templates.")
        out: list[MessageTemplate] = []
        query = {"fields": "name,language,status,category,components,rejected_reason", "limit": "100"}
        after = None
        for _ in range(50):  # 5,000 templates: far past Meta's per-account limit
            body = self._get(
                channel, f"{waba}/message_templates", {**query, **({"after": after} if after else {})}
            )
            for row in _list(body.get("data")):
                if isinstance(row, dict) and _short(row.get("name"), 512) and _short(row.get("language"), 20):
                    out.append(self._template(row))
            paging = _obj(body.get("paging"))
            after = _obj(paging.get("cursors")).get("after") if paging.get("next") else None
            if not after:
                break
        return out

    @staticmethod
    def _template(row: dict) -> MessageTemplate:
        text, examples = "", []
        for component in _list(row.get("components")):
            if isinstance(component, dict) and str(component.get("type", "")).upper() == "BODY":
                text = str(component.get("text", ""))
                example = _list(_obj(component.get("example")).get("body_text")) or [[]]
                examples = example[0] if isinstance(example[0], list) else []
        keys = sorted(set(re.findall(r"\{\{(\d+)\}\}", text)), key=int)
        variables = tuple(
            (k, f"Variable {k}", str(examples[int(k) - 1]) if int(k) - 1 < len(examples) else "")
            for k in keys
        )
        reason = row.get("rejected_reason") or ""
        return MessageTemplate(
            name=str(row["name"]),
            language=str(row.get("language", "")),
            body=text,
            category=str(row.get("category", "")).lower(),
            variables=variables,
            status=TEMPLATE_STATUS.get(
                str(row.get("status", "")).upper(), str(row.get("status", "")).lower()
            ),
            reason="" if reason in ("NONE", None) else str(reason),
        )

    # --- webhooks -------------------------------------------------------------------------

    def verify_challenge(self, channel, request: WebhookRequest) -> str | None:
        expected = (channel.settings or {}).get("verify_token", "")
        given = request.query.get("hub.verify_token", "")
        if request.query.get("hub.mode") != "subscribe" or not expected:
            return None
        if not hmac.compare_digest(given.encode(), str(expected).encode()):
            return None
        return request.query.get("hub.challenge", "")

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        secret = channel.credentials.get("app_secret", "")
        header = request.headers.get("x-hub-signature-256", "")
        if not secret or not header.startswith("sha256="):
            return False
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(header.removeprefix("sha256=").encode(), expected.encode())

    def parse_inbound(self, channel, request: WebhookRequest) -> list[Inbound]:
        return self.parse_events(channel, request).inbound

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        return self.parse_events(channel, request).statuses

    def parse_events(self, channel, request: WebhookRequest) -> WebhookEvents:
        try:
            data = json.loads(request.body)
        except ValueError:
            raise MalformedPayload("The body is not JSON.") from None
        if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
            raise MalformedPayload("Expected an object with 'entry' (a WhatsApp Business Account webhook).")
        events = WebhookEvents()
        phone_id = str((channel.settings or {}).get("phone_number_id", ""))
        for entry in data["entry"]:
            for change in _list(_obj(entry).get("changes")):
                if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                    raise MalformedPayload("Each change needs a 'value' object.")
                value, field = change["value"], change.get("field")
                if field == "message_template_status_update":
                    events.templates.append(self._template_update(value))
                    continue
                if field != "messages":
                    continue
                metadata = _obj(value.get("metadata"))
                if phone_id and str(metadata.get("phone_number_id", phone_id)) != phone_id:
                    log.info(
                        "Meta webhook for phone number id %s ignored on channel %s", metadata, channel.pk
                    )
                    continue  # another number of the same app: its own channel gets it
                events.inbound.extend(self._inbound(value, metadata))
                events.statuses.extend(self._statuses(value))
        return events

    @staticmethod
    def _when(timestamp) -> dt.datetime | None:
        try:
            return dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
        except (TypeError, ValueError, OverflowError):
            return None

    def _inbound(self, value: dict, metadata: dict) -> list[Inbound]:
        names = {
            str(c.get("wa_id")): str(_obj(c.get("profile")).get("name", ""))
            for c in _list(value.get("contacts"))
            if isinstance(c, dict)
        }
        out = []
        for m in _list(value.get("messages")):
            if not isinstance(m, dict) or not _short(m.get("id")) or not _short(m.get("from"), 40):
                raise MalformedPayload("A message needs 'id' and 'from'.")
            kind = str(m.get("type", ""))[:40]
            text, button, media = "", "", ()
            if kind == "text":
                text = str(_obj(m.get("text")).get("body", ""))
            elif kind in INBOUND_MEDIA:
                part = _obj(m.get(kind))
                text = str(part.get("caption", ""))
                if part.get("id"):  # a Graph media object: GET it (with the token) for its URL
                    media = (f"{API_BASE}/{API_VERSION}/{part['id']}",)
            elif kind == "interactive":
                reply = _obj(m.get("interactive"))
                picked = _obj(reply.get("button_reply") or reply.get("list_reply"))
                button, text = str(picked.get("id", "")), str(picked.get("title", ""))
            elif kind == "button":  # a template's quick-reply button
                part = _obj(m.get("button"))
                button, text = str(part.get("payload", "")), str(part.get("text", ""))
            elif kind == "location":
                loc = _obj(m.get("location"))
                text = (
                    f"[location {loc.get('latitude')},{loc.get('longitude')}] {loc.get('name', '')}".strip()
                )
            else:
                text = f"[{kind or 'unknown'} message]"
            out.append(
                Inbound(
                    provider_message_id=str(m["id"]),
                    from_address=_e164(str(m["from"])),
                    to_address=_e164(str(metadata.get("display_phone_number", ""))),
                    text=text,
                    media_urls=media,
                    button_id=button,
                    profile_name=names.get(str(m["from"]), ""),
                    received_at=self._when(m.get("timestamp")),
                    raw=m,
                )
            )
        return out

    def _statuses(self, value: dict) -> list[StatusUpdate]:
        out = []
        for s in _list(value.get("statuses")):
            if not isinstance(s, dict) or not _short(s.get("id")) or not _short(s.get("status"), 40):
                raise MalformedPayload("A status needs 'id' and 'status'.")
            raw = str(s["status"])
            code, reason = "", ""
            errors = _list(s.get("errors"))
            if errors and isinstance(errors[0], dict):
                e = errors[0]
                details = str(_obj(e.get("error_data")).get("details", ""))
                code, reason = _window(
                    str(e.get("code", "")), details or str(e.get("message") or e.get("title") or "")
                )
            out.append(
                StatusUpdate(
                    status=STATUS.get(raw, ""),
                    provider_message_id=str(s["id"]),
                    reference=str(s.get("biz_opaque_callback_data") or "")[:32],
                    at=self._when(s.get("timestamp")),
                    error_code=code[:40],
                    error_reason=reason[:500],
                    raw_status=raw,
                )
            )
        return out

    @staticmethod
    def _template_update(value: dict) -> MessageTemplate:
        name = value.get("message_template_name")
        if not _short(name, 512) or not _short(value.get("message_template_language"), 20):
            raise MalformedPayload("A template update needs its name and language.")
        event = str(value.get("event", "")).upper()
        reason = value.get("reason") or ""
        return MessageTemplate(
            name=str(name),
            language=str(value.get("message_template_language", "")),
            body="",  # a review event carries no body: the synced one is kept
            category=str(value.get("message_template_category", "")).lower(),
            status=TEMPLATE_STATUS.get(event, event.lower()),
            reason="" if reason == "NONE" else str(reason),
        )
