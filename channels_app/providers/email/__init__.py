"""Email through django-anymail: SMTP (Django's own backend), Mailgun and Postmark, each channel
with its own account (a backend instantiated per send with the channel's credentials through
`django.core.mail.get_connection(path, **kwargs)`, never the global EMAIL_BACKEND).

- The message: `compose` builds it from the stored content (subject, text, HTML already cleaned
  with nh3 when it was stored: sanitise.py), From the channel's address, a Message-ID made of
  our reference, the core's headers (List-Unsubscribe, channels_app/unsubscribe.py) and our
  reference as anymail metadata, which the ESPs echo in their tracking webhooks (so a receipt
  finds its message before the ESP's id is recorded).
- Sending through an ESP: anymail builds and parses the ESP's API call; the HTTP goes through
  `transport.DeadlineAdapter` (total deadline, public addresses only, not-sent vs ambiguous).
  Answers: 2xx accepted (the ESP's message id kept); 429 and 503 retried with Retry-After; a
  refused recipient and other 4xx fail with the ESP's code; 500/502/504 and a lost answer are
  `unknown` (no ESP here honours an idempotency key: never sent twice); a 2xx in a shape anymail
  cannot read fails with the raw answer kept for support.
- Tracking webhooks (/webhooks/<provider>/<token>/status/): anymail's own webhook view for the ESP
  checks the request (Mailgun: the HMAC signature with the channel's webhook signing key;
  Postmark: the basic-auth password in the URL, typed on the channel) and parses the
  events; `updates` maps them to receipts: delivered; opened and clicked = read; a hard bounce
  fails the message and suppresses the address; a complaint suppresses it; an unsubscribe at the
  ESP is an opt-out of the message's purpose.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import secrets
import time
import urllib.parse
import warnings

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailInsecureWebhookWarning,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
    AnymailWebhookValidationFailure,
)
from anymail.signals import EventType, RejectReason
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from django.core.mail import EmailMultiAlternatives, get_connection

from ... import conf
from .. import http
from ..base import (
    Capabilities,
    CredentialField,
    MalformedPayload,
    Outbound,
    Provider,
    ProviderError,
    SendResult,
    StatusUpdate,
    WebhookRequest,
    WebhookURL,
)
from .transport import DeadlineAdapter

log = logging.getLogger(__name__)
CAPABILITIES = Capabilities(max_text=200_000, email=True)

READ = {EventType.OPENED, EventType.CLICKED}
HARD_REJECTS = {RejectReason.BOUNCED, RejectReason.INVALID}


def compose(channel, message: Outbound) -> EmailMultiAlternatives:
    content = message.content
    mail = content.get("email") or {"subject": "", "body": content.get("text", "")}
    settings = channel.settings or {}
    domain = channel.address.rpartition("@")[2] or "localhost"
    headers = {"Message-ID": f"<{message.reference}@{domain}>", **message.headers}
    out = EmailMultiAlternatives(
        subject=mail.get("subject", ""),
        body=mail.get("body", ""),
        from_email=email.utils.formataddr((settings.get("from_name") or "", channel.address)),
        to=[message.to],
        headers=headers,
        reply_to=[settings["reply_to"]] if settings.get("reply_to") else None,
    )
    if mail.get("html"):
        out.attach_alternative(mail["html"], "text/html")
    out.metadata = {"ref": message.reference}  # anymail: echoed by the ESP's webhooks
    return out


FROM_FIELDS = (
    CredentialField(
        "from_name",
        "From name",
        secret=False,
        required=False,
        help="Shown before the address, e.g. Demo Bank.",
    ),
    CredentialField(
        "reply_to",
        "Reply-To address",
        secret=False,
        required=False,
        help="Where replies and mailto unsubscribes go; the From address when blank.",
    ),
)
RATE_HELP = (
    "Not a limit of {label}: a cautious start for a new domain (mailbox providers throttle a sudden "
    "volume); raise it as the domain warms up."
)


class EmailProvider(Provider):
    """What every email provider shares: the kind, the composed message, no inbound here."""

    kinds = frozenset({"email"})
    address_label = "From address"
    address_help = "On a domain the provider has verified (SPF, DKIM, DMARC), e.g. news@mail.yourbank.com."

    def capabilities(self, kind: str) -> Capabilities:
        return CAPABILITIES

    def parse_inbound(self, channel, request: WebhookRequest):
        raise MalformedPayload(
            f"{self.label} inbound email is not received here: set only the status webhook."
        )


class AnymailProvider(EmailProvider):
    """An ESP that anymail carries: its backend for sending, its tracking view for webhooks."""

    backend = ""  # dotted path of the anymail EmailBackend
    tracking_view = None  # anymail's tracking webhook view class
    api_base = ""

    def backend_kwargs(self, channel) -> dict:
        raise NotImplementedError

    def webhook_kwargs(self, channel) -> dict:
        raise NotImplementedError

    def error_of(self, status: int, body) -> tuple[str, str]:
        """(code, reason) from an ESP's error answer."""
        message = body.get("message") if isinstance(body, dict) else ""
        return str(status), str(message or f"HTTP {status}")

    def _api(self, channel) -> str:
        return ((channel.settings or {}).get("api_base") or self.api_base).rstrip("/")

    # --- sending --------------------------------------------------------------------------

    def send(self, channel, message: Outbound) -> SendResult:
        adapter = DeadlineAdapter(message.deadline)
        out = compose(channel, message)
        try:
            backend = get_connection(self.backend, fail_silently=False, **self.backend_kwargs(channel))
        except AnymailConfigurationError as exc:
            return SendResult.failed("configuration", f"{self.label} is not configured: {exc}"[:500])
        try:
            backend.open()
            backend.session.mount("https://", adapter)
            backend.session.mount("http://", adapter)
            backend.send_messages([out])
        except AnymailRecipientsRefused as exc:
            return SendResult.failed("rejected", f"{self.label} refused the recipient: {exc}"[:500])
        except AnymailRequestsAPIError as exc:
            return self._api_error(exc, adapter)
        except AnymailError as exc:
            return SendResult.failed("invalid", f"{self.label} could not take the message: {exc}"[:500])
        finally:
            backend.close()
        return SendResult.accepted(out.anymail_status.message_id or None)

    def _api_error(self, exc: AnymailRequestsAPIError, adapter: DeadlineAdapter) -> SendResult:
        if adapter.failure == "refused":
            return SendResult.failed(
                "refused", f"The channel's API base may not be called: {adapter.reason}."
            )
        if adapter.failure == "not_sent":
            return SendResult.retry("network", f"Could not reach {self.label}: {adapter.reason}")
        if adapter.failure == "ambiguous":
            return SendResult.unknown(
                "no_answer", f"{self.label} took the request but gave no answer: {adapter.reason}."
            )
        response = exc.response
        status = exc.status_code
        if response is None or status is None:
            return SendResult.unknown("provider_error", f"{self.label}: {exc}"[:500])
        raw = response.text[:500]
        if 200 <= status < 300:  # accepted? the answer cannot say: kept for support
            return SendResult.failed("unexpected_answer", f"{self.label} answered {status} with: {raw}")
        try:
            body = response.json()
        except ValueError:
            body = {"message": raw}
        code, reason = self.error_of(status, body)
        if status in (429, 503):  # refused before it was processed
            retry_after = None
            try:
                retry_after = float(response.headers.get("Retry-After") or "")
            except ValueError:
                retry_after = None
            return SendResult.retry(str(status), reason, retry_after_s=retry_after)
        if status >= 500:
            return SendResult.unknown(str(status), f"{self.label} answered {status} ({reason}).")
        return SendResult.failed(code, reason[:500])

    def _check(self, channel, method: str, url: str, headers: dict) -> tuple[int, dict]:
        """One call to the ESP's account API (anymail has no credential check of its own)."""
        deadline = time.monotonic() + float(conf.get("CHANNELS_SEND_DEADLINE_S"))
        try:
            status, _, body = http.call(method, url, headers=headers, body=None, deadline=deadline)
        except (http.NotSent, http.Ambiguous) as exc:
            raise ProviderError(f"Could not reach {self.label}: {exc}") from None
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {"message": body[:200].decode(errors="replace")}
        return status, data if isinstance(data, dict) else {}

    # --- webhooks -------------------------------------------------------------------------

    def _view(self, channel):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AnymailInsecureWebhookWarning)
            return self.tracking_view(**self.webhook_kwargs(channel))

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        if request.django_request is None:
            return False
        try:
            self._view(channel).run_validators(request.django_request)
        except (AnymailWebhookValidationFailure, AnymailConfigurationError):
            return False
        return True

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        try:
            events = self._view(channel).parse_events(request.django_request)
        except (ValueError, KeyError, TypeError, AttributeError, AnymailError) as exc:
            raise MalformedPayload(f"Not a {self.label} tracking event: {exc}") from None
        return [u for event in events for u in self.updates(event)]

    def hard_bounce(self, event) -> bool:
        return event.reject_reason in HARD_REJECTS or event.reject_reason is None

    def updates(self, event) -> list[StatusUpdate]:
        """The receipt(s) an anymail tracking event means."""
        metadata = event.metadata if isinstance(event.metadata, dict) else {}
        common = {
            "provider_message_id": (event.message_id or "")[:100],
            "reference": str(metadata.get("ref") or "")[:32],
            "at": event.timestamp,
            "address": event.recipient or "",
            "raw_status": str(event.event_type),
        }
        updates = self._updates(event, common)
        if common["provider_message_id"] or common["reference"]:
            return updates
        # names no message: only what it says about the address can be acted on
        return [dataclasses.replace(u, status="", opt_out=False) for u in updates if u.suppress]

    def _updates(self, event, common: dict) -> list[StatusUpdate]:
        kind = event.event_type
        reason = (event.description or event.mta_response or "")[:500]
        if kind in (EventType.QUEUED, EventType.SENT):
            return [StatusUpdate(status="sent", **common)]
        if kind == EventType.DELIVERED:
            return [StatusUpdate(status="delivered", **common)]
        if kind in READ:
            return [StatusUpdate(status="read", **common)]
        if kind == EventType.BOUNCED:
            hard = self.hard_bounce(event)
            return [
                StatusUpdate(
                    status="failed",
                    error_code="hard_bounce" if hard else "soft_bounce",
                    error_reason=reason or ("The address does not exist." if hard else "Not delivered."),
                    suppress="bounce" if hard else "",
                    **common,
                )
            ]
        if kind in (EventType.REJECTED, EventType.FAILED):
            suppress = (
                "bounce"
                if event.reject_reason in HARD_REJECTS
                else "complaint"
                if event.reject_reason == RejectReason.SPAM
                else ""
            )
            return [
                StatusUpdate(
                    status="failed",
                    error_code=str(event.reject_reason or kind),
                    error_reason=reason or f"{self.label} did not send it ({event.reject_reason or kind}).",
                    suppress=suppress,
                    opt_out=event.reject_reason == RejectReason.UNSUBSCRIBED,
                    **common,
                )
            ]
        if kind == EventType.COMPLAINED:  # after delivery: the status stays, the address goes
            return [StatusUpdate(status="", suppress="complaint", error_reason=reason, **common)]
        if kind == EventType.UNSUBSCRIBED:
            return [StatusUpdate(status="", opt_out=True, **common)]
        return []  # deferred (the ESP retries), autoresponded, subscribed, unknown: nothing to do


class MailgunProvider(AnymailProvider):
    name = "mailgun"
    label = "Mailgun"
    backend = "anymail.backends.mailgun.EmailBackend"
    tracking_view = MailgunTrackingWebhookView
    api_base = "https://api.mailgun.net/v3"
    credential_fields = (
        CredentialField(
            "api_key",
            "API key",
            help="Account settings → API Security → Mailgun API keys.",
            help_url="https://app.mailgun.com/settings/api_security",
        ),
        CredentialField(
            "webhook_signing_key",
            "HTTP webhook signing key",
            help="Sending → Webhooks → HTTP webhook signing key: it signs every tracking event.",
            help_url="https://app.mailgun.com/mg/sending/webhooks",
        ),
    )
    setting_fields = (
        CredentialField(
            "sender_domain",
            "Sending domain",
            secret=False,
            required=False,
            help="The verified domain that sends; the From address's domain when blank.",
            help_url="https://app.mailgun.com/mg/sending/domains",
        ),
        CredentialField(
            "api_base",
            "API base URL",
            secret=False,
            required=False,
            input="url",
            help="Only for a domain in Mailgun's EU region.",
            placeholder="https://api.eu.mailgun.net/v3",
        ),
        *FROM_FIELDS,
    )
    setup_help = (
        "Have a sending domain Mailgun has verified, an API key and the HTTP webhook signing key. "
        "Tracking (delivered, opened, clicked, bounced, complained, unsubscribed) comes back through "
        "the webhook below."
    )
    setup_url = "https://app.mailgun.com/"
    default_rates = {"email": 10}
    rate_help = RATE_HELP.format(label="Mailgun")

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list[WebhookURL]:
        return [
            WebhookURL(
                "Tracking webhooks (Sending → Webhooks)",
                status,
                "Add it for Delivered, Opened, Clicked, Permanent failure, Temporary failure, Spam "
                "complaints and Unsubscribes.",
            )
        ]

    def _domain(self, channel) -> str:
        return (channel.settings or {}).get("sender_domain") or channel.address.rpartition("@")[2]

    def backend_kwargs(self, channel) -> dict:
        return {
            "api_key": channel.credentials.get("api_key", ""),
            "sender_domain": self._domain(channel),
            "api_url": self._api(channel),
        }

    def webhook_kwargs(self, channel) -> dict:
        return {
            "webhook_signing_key": channel.credentials.get("webhook_signing_key", ""),
            "webhook_secret": [],
        }

    def test_credentials(self, channel) -> str:
        import base64

        auth = base64.b64encode(f"api:{channel.credentials.get('api_key', '')}".encode()).decode()
        domain = self._domain(channel)
        status, body = self._check(
            channel,
            "GET",
            f"{self._api(channel)}/domains/{urllib.parse.quote(domain)}",
            {"Authorization": f"Basic {auth}"},
        )
        if status == 401:
            raise ProviderError(
                "Mailgun refused the API key (401 Forbidden): copy it again from API Security."
            )
        if status == 404:
            raise ProviderError(
                f"Mailgun has no sending domain '{domain}' on this account (or it is in the other region)."
            )
        if status != 200:
            raise ProviderError(f"Mailgun answered {status}: {body.get('message', '')}")
        state = (body.get("domain") or {}).get("state", "unknown")
        return f"Mailgun domain '{domain}' is {state}."


class PostmarkProvider(AnymailProvider):
    name = "postmark"
    label = "Postmark"
    backend = "anymail.backends.postmark.EmailBackend"
    tracking_view = PostmarkTrackingWebhookView
    api_base = "https://api.postmarkapp.com"
    credential_fields = (
        CredentialField(
            "server_token",
            "Server API token",
            help="Servers → your server → API Tokens (a Server token, not the Account token).",
            help_url="https://account.postmarkapp.com/servers",
        ),
        CredentialField(
            "webhook_password",
            "Webhook password",
            help="Make up a long random password: it goes into the webhook URL you give Postmark "
            "(below), which Postmark sends back as basic auth.",
        ),
    )
    setting_fields = (
        CredentialField(
            "message_stream",
            "Message stream",
            secret=False,
            required=False,
            help="outbound (transactional) when blank; your broadcast stream for marketing.",
            help_url="https://account.postmarkapp.com/servers",
        ),
        CredentialField(
            "api_base", "API base URL", secret=False, required=False, input="url", placeholder=api_base
        ),
        *FROM_FIELDS,
    )
    setup_help = (
        "Have a Postmark server with a verified sender signature or domain and its Server API token. "
        "Tracking comes back through the webhook below, protected by the password you choose."
    )
    setup_url = "https://account.postmarkapp.com/servers"
    default_rates = {"email": 10}
    rate_help = RATE_HELP.format(label="Postmark")
    WEBHOOK_USER = "postmark"

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list[WebhookURL]:
        scheme, _, rest = status.partition("://")
        return [
            WebhookURL(
                "Webhook URL (your server → Webhooks → Add webhook)",
                f"{scheme}://{self.WEBHOOK_USER}:YOUR-WEBHOOK-PASSWORD@{rest}",
                "Put the webhook password in place of YOUR-WEBHOOK-PASSWORD; tick Delivery, Bounce, "
                "Spam complaint, Open, Link click and Subscription change.",
            )
        ]

    def backend_kwargs(self, channel) -> dict:
        kwargs = {
            "server_token": channel.credentials.get("server_token", ""),
            "api_url": self._api(channel) + "/",
        }
        stream = (channel.settings or {}).get("message_stream")
        if stream:
            kwargs["message_stream"] = stream
        return kwargs

    def webhook_kwargs(self, channel) -> dict:
        password = channel.credentials.get("webhook_password", "")
        # no password, no webhook: an empty list would let anyone in
        return {
            "webhook_secret": [f"{self.WEBHOOK_USER}:{password}"]
            if password
            else ["-:" + secrets.token_hex(16)]
        }

    def error_of(self, status: int, body) -> tuple[str, str]:
        if isinstance(body, dict) and "ErrorCode" in body:
            return str(body["ErrorCode"]), str(body.get("Message") or f"HTTP {status}")
        return super().error_of(status, body)

    def hard_bounce(self, event) -> bool:
        raw = event.esp_event if isinstance(event.esp_event, dict) else {}
        return raw.get("Type") in ("HardBounce", "BadEmailAddress", "SpamComplaint")

    def test_credentials(self, channel) -> str:
        status, body = self._check(
            channel,
            "GET",
            f"{self._api(channel)}/server",
            {
                "Accept": "application/json",
                "X-Postmark-Server-Token": channel.credentials.get("server_token", ""),
            },
        )
        if status == 401:
            raise ProviderError(
                f"Postmark refused the server token: {body.get('Message', 'unauthorised')} "
                "(use a Server API token, not an Account token)."
            )
        if status != 200:
            raise ProviderError(f"Postmark answered {status}: {body.get('Message', '')}")
        return f"Postmark server '{body.get('Name', '?')}' answers."
