"""Twilio: SMS, WhatsApp and voice through the REST API as Twilio documents it.

- Messages resource: POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, basic
  auth (Account SID : Auth Token), `StatusCallback` pointing at our status webhook with our
  reference in the query (so a receipt finds its message even before the SID is recorded).
  WhatsApp addresses carry the `whatsapp:` prefix; templates go as ContentSid + ContentVariables.
- Calls resource: POST .../Calls.json with inline TwiML (`<Say language=...>` in the contact's
  language, `<Gather>` whose action is our inbound webhook, so keyed digits arrive as an inbound
  message: the reply a journey's question waits for). Call status callbacks also give the call's
  outcome (answered, no answer, busy), which the core records as an Event.
- Webhooks: form-encoded, signed with X-Twilio-Signature (HMAC-SHA1 of the URL + sorted params,
  checked with the official SDK's RequestValidator).
- Answers: 2xx accepted; 429 and 503 (not processed) retried, Retry-After honoured; no
  connection retried; other 4xx fail with Twilio's error code (e.g. 21211 invalid 'To').
- Twilio has no idempotency key for message creation, so an answer that may hide an accepted
  message (a timeout after the request was written, a reset, a 500/502/504) is `unknown`, never
  sent again: the StatusCallback (it carries our reference) settles it, or, when we have the
  SID, asking for the message resource does (`lookup`).
- Every call has a total deadline (`providers/http.py`), not a per-read timeout.

`settings["api_base"]` points the adapter at another host (tests run a local server that plays
Twilio)."""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.parse
from decimal import Decimal, InvalidOperation

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from cpaas.jsoninput import json_parse

from ... import conf
from .. import http
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

log = logging.getLogger(__name__)
API_BASE = "https://api.twilio.com"
API_VERSION = "2010-04-01"

CAPABILITIES = {
    "sms": Capabilities(max_text=1600, media=True),
    # Free-form WhatsApp buttons need Twilio Content templates: they go as numbered text.
    "whatsapp": Capabilities(max_text=1600, media=True, template=True),
    "voice": Capabilities(max_text=3000, voice=True),
}
MESSAGE_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
}
CALL_STATUS = {
    "initiated": "sent",
    "ringing": "sent",
    "in-progress": "delivered",
    "answered": "delivered",
    "completed": "delivered",
    "busy": "failed",
    "no-answer": "failed",
    "failed": "failed",
    "canceled": "failed",
}


def _wa(kind: str, address: str) -> str:
    return f"whatsapp:{address}" if kind == "whatsapp" and not address.startswith("whatsapp:") else address


def _strip(address: str) -> str:
    return address.split(":", 1)[1] if address.startswith(("whatsapp:", "sms:")) else address


# The call outcomes journeys wait for (Events call.answered / call.no_answer / call.busy): a call
# that was in progress or completed was answered; `failed` and `canceled` are not outcomes.
CALL_OUTCOME = {
    "in-progress": "answered",
    "answered": "answered",
    "completed": "answered",
    "no-answer": "no_answer",
    "busy": "busy",
}
# <Say language=...>: the locale of Twilio's voice for a contact's ISO 639-1 language (the first
# locale Twilio lists for it; a locale given in the content, "fr-CA", is used as it is).
# https://www.twilio.com/docs/voice/twiml/say#attributes-language
SAY_LOCALES = {
    "ca": "ca-ES", "da": "da-DK", "de": "de-DE", "en": "en-GB", "es": "es-ES", "fi": "fi-FI",
    "fr": "fr-FR", "it": "it-IT", "ja": "ja-JP", "ko": "ko-KR", "nb": "nb-NO", "no": "nb-NO",
    "nl": "nl-NL", "pl": "pl-PL", "pt": "pt-PT", "ru": "ru-RU", "sv": "sv-SE", "zh": "zh-CN",
}  # fmt: skip
REPLY_WAIT_S = 10  # a question with no keys given: digits ending with # or this pause


def say_locale(language: str) -> str:
    language = (language or "").strip()
    if "-" in language:
        return language
    return SAY_LOCALES.get(language.lower(), "en-GB")


def twiml_for(content: dict, gather_action: str = "", expects_reply: bool = False) -> str:
    """The call's TwiML: what to say, in the contact's language; a question (a gather in the
    content, or a journey waiting for the reply) waits for keys, which Twilio posts to
    `gather_action` (our inbound webhook: they arrive as the contact's reply)."""
    voice = content.get("voice") or {"say": content.get("text", "")}
    language = say_locale(voice.get("language", ""))
    response = VoiceResponse()
    gather = voice.get("gather")
    if gather or expects_reply:
        options = (
            {"num_digits": gather["digits"], "timeout": gather["timeout_s"]}
            if gather
            else {"timeout": REPLY_WAIT_S, "finish_on_key": "#"}
        )
        g = response.gather(action=gather_action, method="POST", **options)
        g.say(voice["say"], language=language)
    else:
        response.say(voice["say"], language=language)
    return str(response)


class TwilioProvider(Provider):
    name = "twilio"
    label = "Twilio"
    can_lookup = True
    kinds = frozenset(CAPABILITIES)
    credential_fields = (
        CredentialField(
            "account_sid",
            "Account SID",
            help="Starts with AC; on the Twilio Console's home page, under Account Info.",
            help_url="https://console.twilio.com/",
            placeholder="AC…",
        ),
        CredentialField(
            "auth_token",
            "Auth token",
            help="Next to the Account SID (Show); it also signs Twilio's webhooks.",
            help_url="https://console.twilio.com/",
        ),
    )
    setting_fields = (
        CredentialField(
            "messaging_service_sid",
            "Messaging Service SID (optional)",
            secret=False,
            required=False,
            placeholder="MG…",
            help="Sends through a Messaging Service (its sender pool) instead of the sender number.",
            help_url="https://console.twilio.com/us1/develop/sms/services",
        ),
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
        "Have the Account SID and Auth token from the Twilio Console and a number that can send "
        "this kind (for WhatsApp, a WhatsApp-enabled sender)."
    )
    setup_url = "https://console.twilio.com/"
    address_label = "Sender number"
    address_help = "E.164, e.g. +447700900123 (Test connection lists the account's numbers)."
    # Twilio queues at 1 message segment per second per long-code number in the US (10DLC
    # throughput depends on the brand's trust score); voice CPS defaults to 1 call per second.
    default_rates = {"sms": 1, "voice": 1, "whatsapp": 80}
    rate_help = "Twilio: 1/s for a long code (a short code or toll-free number takes more)."

    def rate_unit(self, kind: str) -> str:
        return "segment" if kind == "sms" else "message"  # Twilio's MPS counts SMS segments

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list:
        from ..base import WebhookURL

        return [
            WebhookURL(
                "A message comes in (the number's Messaging configuration)",
                inbound,
                "Voice channels: also 'A call comes in'. Receipts need no setting: each send names its status URL.",
            ),
            WebhookURL("Status callback URL (optional, a Messaging Service's)", status),
        ]

    def senders(self, channel) -> list[tuple[str, str]]:
        """The account's numbers (IncomingPhoneNumbers), for the sender picker."""
        try:
            status, _, body = self._call(channel, "GET", "/IncomingPhoneNumbers.json?PageSize=100")
        except (http.NotSent, http.Ambiguous) as exc:
            raise ProviderError(f"Could not reach Twilio: {exc}") from None
        if status != 200:
            raise ProviderError(f"Twilio answered {status}: {body.get('message', '')}")
        numbers = body.get("incoming_phone_numbers")
        if not isinstance(numbers, list):
            return []
        return [
            (str(n.get("phone_number")), str(n.get("friendly_name") or ""))
            for n in numbers
            if isinstance(n, dict) and n.get("phone_number")
        ]

    def capabilities(self, kind: str) -> Capabilities:
        return CAPABILITIES[kind]

    # --- HTTP -----------------------------------------------------------------------------

    def _base(self, channel) -> str:
        return (channel.settings or {}).get("api_base") or API_BASE

    def _call(
        self, channel, method: str, path: str, form: dict | None = None, deadline: float | None = None
    ) -> tuple[int, dict, dict]:
        """Raises http.NotSent or http.Ambiguous when there is no answer by the deadline."""
        creds = channel.credentials
        sid, token = creds.get("account_sid", ""), creds.get("auth_token", "")
        url = f"{self._base(channel).rstrip('/')}/{API_VERSION}/Accounts/{urllib.parse.quote(sid)}{path}"
        data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode(),
            "Accept": "application/json",
        }
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if deadline is None:
            deadline = time.monotonic() + float(conf.get("CHANNELS_SEND_DEADLINE_S"))
        status, answer_headers, body = http.call(method, url, headers=headers, body=data, deadline=deadline)
        return status, answer_headers, self._json(body)

    @staticmethod
    def _json(raw: bytes) -> dict:
        try:
            data = json_parse(raw or b"{}")
        except ValueError:
            return {"message": raw[:300].decode(errors="replace")}
        return data if isinstance(data, dict) else {}

    def _result(self, status: int, headers: dict, body: dict) -> SendResult:
        if 200 <= status < 300:
            cost = None
            if body.get("price") not in (None, ""):
                try:
                    cost = abs(Decimal(str(body["price"])))
                except InvalidOperation:
                    cost = None
            return SendResult.accepted(
                body.get("sid"), cost=cost, cost_currency=(body.get("price_unit") or "")[:3]
            )
        code = str(body.get("code") or status)
        reason = str(body.get("message") or f"HTTP {status}")
        if status in (429, 503):  # refused before it was processed: safe to send again
            retry_after = None
            header = {k.lower(): v for k, v in headers.items()}.get("retry-after")
            if header:
                try:
                    retry_after = float(header)
                except ValueError:
                    retry_after = None
            return SendResult.retry(str(status), reason, retry_after_s=retry_after)
        if status >= 500:  # from behind the front door: it may have been accepted
            return SendResult.unknown(str(status), f"Twilio answered {status} ({reason}).", body.get("sid"))
        return SendResult.failed(code, reason)

    # --- sending --------------------------------------------------------------------------

    def send(self, channel, message: Outbound) -> SendResult:
        content = message.content
        if message.kind == "voice":
            path = "/Calls.json"
            gather_action = message.status_callback_url.replace("/status/", "/inbound/")
            form = {
                "To": message.to,
                "From": message.from_,
                "Twiml": twiml_for(
                    content, gather_action, expects_reply=bool((message.options or {}).get("expects_reply"))
                ),
                "StatusCallback": message.status_callback_url,
                "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
            }
        else:
            path = "/Messages.json"
            form = {"To": _wa(message.kind, message.to), "StatusCallback": message.status_callback_url}
            service = (channel.settings or {}).get("messaging_service_sid")
            if service:
                form["MessagingServiceSid"] = service
            else:
                form["From"] = _wa(message.kind, message.from_)
            template = content.get("template")
            if template and message.kind == "whatsapp":
                form["ContentSid"] = template["name"]
                form["ContentVariables"] = json.dumps(template.get("variables") or {})
            else:
                form["Body"] = content.get("text", "")
            if content.get("media_url"):
                form["MediaUrl"] = content["media_url"]
        try:
            status, headers, body = self._call(channel, "POST", path, form, deadline=message.deadline)
        except http.Refused as exc:
            return SendResult.failed("refused", f"The channel's API base may not be called: {exc}.")
        except http.NotSent as exc:
            return SendResult.retry("network", f"Could not reach Twilio: {exc}")
        except http.Ambiguous as exc:
            return SendResult.unknown("no_answer", f"Twilio took the request but gave no answer: {exc}.")
        return self._result(status, headers, body)

    def lookup(self, channel, provider_message_id: str, deadline: float) -> StatusUpdate | None:
        """The message (or call) resource by its SID: what Twilio says became of it."""
        calls = provider_message_id.startswith("CA")
        path = f"/{'Calls' if calls else 'Messages'}/{urllib.parse.quote(provider_message_id)}.json"
        try:
            status, _, body = self._call(channel, "GET", path, deadline=deadline)
        except (http.NotSent, http.Ambiguous):
            return None
        if status != 200 or not body.get("status"):
            return None
        raw = str(body["status"])
        # queued, accepted, sending...: Twilio has it, which is what "sent" means here
        mapped = (CALL_STATUS if calls else MESSAGE_STATUS).get(raw, "sent")
        return StatusUpdate(
            status=mapped,
            provider_message_id=provider_message_id,
            error_code=str(body.get("error_code") or ""),
            error_reason=str(body.get("error_message") or ""),
            raw_status=raw,
            call_outcome=CALL_OUTCOME.get(raw, "") if calls else "",
        )

    def test_credentials(self, channel) -> str:
        try:
            status, _, body = self._call(channel, "GET", ".json")
        except (http.NotSent, http.Ambiguous) as exc:
            raise ProviderError(f"Could not reach Twilio: {exc}") from None
        if status != 200:
            raise ProviderError(
                f"Twilio refused the credentials: {body.get('message') or status} ({body.get('code', status)})."
            )
        return f"Twilio account '{body.get('friendly_name', '?')}' is {body.get('status', 'reachable')}."

    # --- webhooks -------------------------------------------------------------------------

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        token = channel.credentials.get("auth_token", "")
        signature = request.headers.get("x-twilio-signature", "")
        if not token or not signature:
            return False
        return RequestValidator(token).validate(request.url, request.form, signature)

    def parse_inbound(self, channel, request: WebhookRequest) -> list[Inbound]:
        form = request.form
        if form.get("CallSid"):
            if not form.get("From"):
                raise MalformedPayload("'From' is required.")
            outbound = form.get("Direction", "").startswith("outbound") or bool(request.query.get("ref"))
            digits = form.get("Digits", "")
            speech = form.get("SpeechResult", "")
            return [
                Inbound(
                    provider_message_id=f"{form['CallSid']}:{digits or speech or 'call'}"[:100],
                    # on a call we placed, the contact is the one we called
                    from_address=form.get("To", "") if outbound else form["From"],
                    to_address=form.get("To", ""),
                    text=speech or (digits if digits else "[incoming call]"),
                    digits=digits,
                    raw=dict(form),
                )
            ]
        sid = form.get("MessageSid") or form.get("SmsMessageSid")
        if not sid or not form.get("From"):
            raise MalformedPayload("'MessageSid' and 'From' are required.")
        try:
            media = int(form.get("NumMedia") or 0)
        except ValueError:
            raise MalformedPayload("'NumMedia' is not a number.") from None
        return [
            Inbound(
                provider_message_id=sid,
                from_address=_strip(form["From"]),
                to_address=_strip(form.get("To", "")),
                text=form.get("Body", ""),
                media_urls=tuple(form[f"MediaUrl{i}"] for i in range(media) if form.get(f"MediaUrl{i}")),
                button_id=form.get("ButtonPayload", ""),
                profile_name=form.get("ProfileName", ""),
                raw=dict(form),
            )
        ]

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        form = request.form
        ref = request.query.get("ref", "")
        if form.get("CallSid") and form.get("CallStatus"):
            raw, sid, mapping = form["CallStatus"], form["CallSid"], CALL_STATUS
        elif form.get("MessageSid") and form.get("MessageStatus"):
            raw, sid, mapping = form["MessageStatus"], form["MessageSid"], MESSAGE_STATUS
        else:
            raise MalformedPayload("Expected MessageSid + MessageStatus or CallSid + CallStatus.")
        status = mapping.get(raw, "")
        error = form.get("ErrorCode", "")
        if status == "failed" and not error and mapping is CALL_STATUS:
            error = raw
        cost = None
        if form.get("Price"):
            try:
                cost = abs(Decimal(form["Price"]))
            except InvalidOperation:
                cost = None
        return [
            StatusUpdate(
                status=status,
                provider_message_id=sid,
                reference=ref,
                error_code=error,
                error_reason=form.get("ErrorMessage", ""),
                cost=cost,
                cost_currency=form.get("PriceUnit", ""),
                raw_status=raw,
                call_outcome=CALL_OUTCOME.get(raw, "") if mapping is CALL_STATUS else "",
            )
        ]

    def webhook_response(self, kind: str) -> tuple[str, str]:
        return '<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml"
