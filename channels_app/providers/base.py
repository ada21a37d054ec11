"""The one interface every provider adapter implements, and the plain values that cross it.
Adapters never touch Message rows and import no service: the dispatcher hands them `Outbound`
values and records the `SendResult`s; the webhook views hand them a `WebhookRequest` and store
what they parse; receipts they produce themselves go to the `apply` the core hands them. What
the core needs to know about a provider is declared here as capabilities (`idempotent`,
`simulator`, `can_lookup`...), so the core never names one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

# The error code a provider gives a message it refused as outside the conversation window
# (WhatsApp's 24 hours, Meta 131047): consent's own rule name, so the core closes consent's
# window (services/fallback.after_failed) and the inbox and journeys read it as the window.
WINDOW_CLOSED = "whatsapp.window"


class MalformedPayload(Exception):
    """The webhook body is not what the provider sends (answered 400 and logged)."""


class ProviderError(Exception):
    """A provider refused a non-send operation (e.g. testing the credentials)."""


@dataclass(frozen=True)
class Capabilities:
    text: bool = True
    max_text: int = 4096
    media: bool = False
    buttons: int = 0  # how many reply buttons, 0 = none
    quick_replies: int = 0
    template: bool = False
    voice: bool = False
    email: bool = False


@dataclass(frozen=True)
class MessageTemplate:
    """A message the provider has approved in advance (a WhatsApp template): the only kind that
    may open a conversation outside the 24-hour window. `{{1}}`, `{{2}}`... in the body are its
    variables; each is (key, label, suggested value, which may hold merge fields)."""

    name: str
    language: str
    body: str
    category: str = "utility"  # Meta's categories: marketing, utility, authentication
    variables: tuple[tuple[str, str, str], ...] = ()
    status: str = "approved"  # the provider's review: approved, pending, rejected, paused...
    reason: str = ""  # why it was rejected or paused, when the provider says

    def filled(self, values: dict[str, str]) -> str:
        body = self.body
        for key, value in values.items():
            body = body.replace("{{" + key + "}}", value)
        return body


@dataclass(frozen=True)
class CredentialField:
    """One typed input of a provider's channel setup form. Declared on the provider as
    `credential_fields` (secrets: encrypted at rest, never shown back, a blank field keeps the
    stored value) or `setting_fields` (options stored in `Channel.settings`, shown back).
    `help_url` links to where the value is found in the provider's console; `input` is the form
    widget: "text", "url", "number", "choice" (from `choices`) or "json" (an object; the
    sandbox's fault switches only)."""

    name: str
    label: str
    secret: bool = True
    help: str = ""
    help_url: str = ""
    required: bool = True
    input: str = "text"
    choices: tuple[tuple[str, str], ...] = ()
    placeholder: str = ""


SetupField = CredentialField  # the name the setup form reads better with


@dataclass(frozen=True)
class WebhookURL:
    """A URL to paste into the provider's console, shown (with a copy button) before saving."""

    label: str
    url: str
    help: str = ""


@dataclass(frozen=True)
class Outbound:
    """One message to hand to a provider."""

    message_id: int
    reference: str  # ours, unique; used as an idempotency key where the provider takes one
    kind: str
    to: str
    from_: str
    content: dict
    attempt: int  # 1 for the first call
    options: dict = field(default_factory=dict)
    status_callback_url: str = ""
    # time.monotonic() by which the call must be over, answer or not (a total deadline, not a
    # per-read timeout): the dispatcher's claim lease is longer, so no one takes over meanwhile
    deadline: float = float("inf")
    # headers the core wants on the message (an email's List-Unsubscribe, channels_app/unsubscribe.py)
    headers: dict = field(default_factory=dict)

    def remaining_s(self) -> float:
        import time

        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class SendResult:
    ok: bool
    provider_message_id: str | None = None
    transient: bool = False  # retry later (429, a refused connection, "not processed" 5xx)
    # the request may have reached the provider and been accepted (a timeout after it was
    # written, a reset, a 5xx from behind the front door): repeated only by an idempotent
    # provider; otherwise the message's outcome is unknown
    ambiguous: bool = False
    error_code: str = ""
    error_reason: str = ""
    retry_after_s: float | None = None
    cost: Decimal | None = None
    cost_currency: str = ""

    @classmethod
    def accepted(cls, provider_message_id: str | None, **kw) -> SendResult:
        return cls(ok=True, provider_message_id=provider_message_id, **kw)

    @classmethod
    def retry(cls, code: str, reason: str, retry_after_s: float | None = None) -> SendResult:
        return cls(
            ok=False, transient=True, error_code=code, error_reason=reason, retry_after_s=retry_after_s
        )

    @classmethod
    def unknown(cls, code: str, reason: str, provider_message_id: str | None = None) -> SendResult:
        return cls(
            ok=False,
            transient=True,
            ambiguous=True,
            error_code=code,
            error_reason=reason,
            provider_message_id=provider_message_id,
        )

    @classmethod
    def failed(cls, code: str, reason: str) -> SendResult:
        return cls(ok=False, transient=False, error_code=code, error_reason=reason)


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    url: str  # absolute, as the provider called it
    headers: dict[str, str]  # lower-case names
    body: bytes
    form: dict[str, str]
    query: dict[str, str]
    # the Django request itself, for adapters that hand it to the provider's own library
    # (anymail's webhook views check signatures and parse events from an HttpRequest)
    django_request: object = field(default=None, compare=False, repr=False)

    @classmethod
    def from_django(cls, request, public_url: str | None = None) -> WebhookRequest:
        form = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = {k: request.POST.get(k) for k in request.POST}
        return cls(
            method=request.method,
            url=public_url or request.build_absolute_uri(),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.body,
            form=form,
            query={k: request.GET.get(k) for k in request.GET},
            django_request=request,
        )


@dataclass(frozen=True)
class Inbound:
    """One message a contact sent, normalised."""

    provider_message_id: str
    from_address: str
    to_address: str
    text: str = ""
    media_urls: tuple[str, ...] = ()
    button_id: str = ""  # the payload of a pressed button / quick reply
    digits: str = ""  # voice: what the caller keyed
    profile_name: str = ""
    received_at: dt.datetime | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt: find the message by provider id or, when the provider echoes it,
    by our reference."""

    status: str  # one of Message.Status: sent, delivered, read, failed
    provider_message_id: str = ""
    reference: str = ""
    at: dt.datetime | None = None
    error_code: str = ""
    error_reason: str = ""
    cost: Decimal | None = None
    cost_currency: str = ""
    raw_status: str = ""
    # what the receipt says beyond the message's status, applied by the core (status.py):
    address: str = ""  # the recipient the receipt is about (an email address)
    suppress: str = ""  # "bounce" | "complaint": put `address` on the suppression list
    opt_out: bool = False  # the recipient unsubscribed through the provider: an opt-out
    call_outcome: str = ""  # "answered" | "no_answer" | "busy": an Event call.<outcome>


@dataclass(frozen=True)
class WebhookEvents:
    """What one POST to the channel's events URL carried (a provider such as Meta sends inbound
    messages, receipts and template reviews to one URL, batched)."""

    inbound: list[Inbound] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    templates: list[MessageTemplate] = field(default_factory=list)  # review-status changes


class Provider:
    """Subclass per provider in channels_app/providers/<name>/ and list it in the registry."""

    name = ""
    label = ""
    kinds: frozenset[str] = frozenset()
    idempotent = False  # resending with the same reference can never send twice
    adopts_reference = False  # its message id is our reference (lets the dispatcher write in bulk)
    batch = False  # send_batch is one call, not a loop
    simulator = False  # what it carries shows on the phone simulator (live updates)
    can_lookup = False  # lookup() can say what became of a message, given its provider id
    needs_address = True  # a channel must give its sender address (number, sender id, email)
    # --- channel setup (the typed form on Messages -> Channels; docs/channels.md) -------------
    credential_fields: tuple[CredentialField, ...] = ()
    setting_fields: tuple[CredentialField, ...] = ()
    setup_help = ""  # one or two sentences above the form: what to have ready
    setup_url = ""  # the provider's console page where the account is set up
    address_label = "Sender"
    address_help = "The sender: number (E.164), sender id or email."
    # messages per second a new channel starts with, per kind (editable on the channel): the
    # dispatcher's token bucket enforces the channel's value across every process
    default_rates: dict[str, int] = {}
    rate_help = ""  # where the default comes from

    def default_rate(self, kind: str, settings: dict) -> int:
        return self.default_rates.get(kind, 20)

    def rate_unit(self, kind: str) -> str:
        """What the channel's rate counts: "message", or "segment" where the provider's limit is
        in SMS segments (a 3-part SMS takes 3 tokens from the dispatcher's bucket)."""
        return "message"

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list[WebhookURL]:
        """What to paste into the provider's console, given this channel's three webhook URLs
        (`events` takes GET verification and POSTs carrying inbound and receipts together)."""
        return [
            WebhookURL("Inbound messages", inbound),
            WebhookURL("Delivery receipts (status callback)", status),
        ]

    def senders(self, channel) -> list[tuple[str, str]]:
        """(address, label) of the senders the account has (numbers, sender ids), for the
        address picker; ProviderError when the account cannot be read. [] when not listed."""
        return []

    def generated_settings(self) -> dict:
        """Settings made up when left blank (e.g. a webhook verify token)."""
        return {}

    def capabilities(self, kind: str) -> Capabilities:
        return Capabilities()

    def send(self, channel, message: Outbound) -> SendResult:
        raise NotImplementedError

    def send_batch(self, channel, messages: list[Outbound], now: dt.datetime) -> list[SendResult]:
        return [self.send(channel, m) for m in messages]

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        raise NotImplementedError

    def parse_inbound(self, channel, request: WebhookRequest) -> list[Inbound]:
        raise NotImplementedError

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        raise NotImplementedError

    def parse_events(self, channel, request: WebhookRequest) -> WebhookEvents:
        """A POST to /webhooks/<provider>/<token>/ (one URL for everything); the signature is
        already verified."""
        raise MalformedPayload(f"{self.label} posts to the inbound and status URLs, not here.")

    def verify_challenge(self, channel, request: WebhookRequest) -> str | None:
        """A GET to the events URL: the provider checking the URL before it sends (Meta's
        hub.challenge). The body to answer with, or None (403)."""
        return None

    def webhook_response(self, kind: str) -> tuple[str, str]:
        """(body, content type) to answer a webhook with."""
        return "", "text/plain"

    def test_credentials(self, channel) -> str:
        """A sentence saying the credentials work, or ProviderError."""
        return "No test for this provider."

    def generated_credentials(self) -> dict:
        """Credentials the provider makes up itself when left blank (e.g. a signing secret)."""
        return {}

    def templates(self, channel) -> list[MessageTemplate]:
        """Templates the provider has built in, with no account to ask (the sandbox's). A real
        provider implements `fetch_templates` instead: the core keeps what it returns
        (`ChannelTemplate`, synced from the channel's page) so no page waits on the network."""
        return []

    def fetch_templates(self, channel) -> list[MessageTemplate] | None:
        """Every template of the channel's account with its review status, read from the
        provider (ProviderError when it cannot be); None: this provider has no templates."""
        return None

    def lookup(self, channel, provider_message_id: str, deadline: float) -> StatusUpdate | None:
        """Ask the provider what became of a message (with `can_lookup`); None: no answer."""
        return None

    def tick(self, now: dt.datetime, apply: Callable[[int, list[StatusUpdate]], None]) -> int:
        """Periodic work (the sandbox sends its receipts here): receipts go to
        `apply(channel_id, updates)` inside the transaction that marks them sent, so a crash
        in between loses nothing. Returns how much it did."""
        return 0
