"""Email over SMTP with Django's own backend (anymail carries ESP APIs, not SMTP), one connection
per send with the channel's server and login.

What the dispatcher needs that smtplib does not give:
- the server is typed by a workspace admin, so its host is checked like any provider address
  (public only, `CHANNELS_PROVIDER_ALLOWED_NETWORKS` for exceptions) and the connection goes to
  the checked address (TLS still verifies the host name);
- a total deadline: a watchdog shuts the socket when the message's deadline passes (smtplib's
  timeout bounds each read);
- which side of the line a failure fell: until the message itself has been written after DATA,
  nothing can have been accepted (retried); once written, a lost reply is ambiguous (`unknown`,
  never sent twice: SMTP has no idempotency key). Replies: 2xx accepted, 4xx retried, 5xx failed
  with the server's code (550 no such user...)."""

from __future__ import annotations

import smtplib
import socket
import threading
import time

from django.conf import settings as django_settings
from django.core.mail.backends.smtp import EmailBackend

from cpaas import outbound

from ... import conf
from ..base import (
    CredentialField,
    Outbound,
    ProviderError,
    SendResult,
    StatusUpdate,
    WebhookRequest,
    WebhookURL,
)
from . import FROM_FIELDS, EmailProvider, compose

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _pinned(base: type, address: str) -> type:
    """An smtplib connection class that connects to `address` and tells how far a send got."""

    class Pinned(smtplib.SMTP):
        stage = "connecting"  # -> data_command -> data_written -> accepted

        def _get_socket(self, host, port, timeout):
            return socket.create_connection((address, port), timeout, self.source_address)

        def data(self, msg):
            self.stage = "data_command"
            reply = super().data(msg)
            self.stage = "accepted" if reply[0] == 250 else "refused"
            return reply

        def send(self, s):
            if self.stage == "data_command" and not (isinstance(s, str) and s.lower().startswith("data")):
                self.stage = "data_written"  # the message itself is on its way
            return super().send(s)

    if base is smtplib.SMTP_SSL:

        class PinnedSSL(smtplib.SMTP_SSL, Pinned):  # SMTP_SSL wraps what Pinned connects
            pass

        return PinnedSSL
    return Pinned


class _Backend(EmailBackend):
    def __init__(self, *, address: str, **kwargs):
        super().__init__(**kwargs)
        self._address = address

    @property
    def connection_class(self):
        return _pinned(smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP, self._address)

    @property
    def live(self):
        return self.connection or self._partial_connection

    def shut(self):
        conn = self.live
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SmtpProvider(EmailProvider):
    name = "smtp"
    label = "SMTP server"
    credential_fields = (
        CredentialField("username", "User name", help="The SMTP log-in of your relay or mailbox."),
        CredentialField("password", "Password", help="For Microsoft 365 or Gmail, an app password."),
    )
    setting_fields = (
        CredentialField(
            "host",
            "Server host",
            secret=False,
            help="Your relay's SMTP host.",
            placeholder="smtp.office365.com",
        ),
        CredentialField(
            "security",
            "Security",
            secret=False,
            required=False,
            input="choice",
            choices=(
                ("starttls", "STARTTLS (port 587)"),
                ("ssl", "TLS from the start (port 465)"),
                ("none", "None"),
            ),
            help="STARTTLS when blank.",
        ),
        CredentialField(
            "port",
            "Port",
            secret=False,
            required=False,
            input="number",
            help="587, 465 or 25 by security when blank.",
        ),
        *FROM_FIELDS,
    )
    setup_help = (
        "Any SMTP relay or mailbox that lets you log in (Microsoft 365, Google Workspace, your own). "
        "SMTP reports no delivery, opens or bounces: use Mailgun or Postmark to track them."
    )
    default_rates = {"email": 1}
    rate_help = "A Microsoft 365 mailbox sends at most 30 messages a minute; check your relay's limit."

    def webhook_urls(self, *, inbound: str, status: str, events: str) -> list[WebhookURL]:
        return []  # SMTP calls nothing back

    def _backend(self, channel, deadline: float) -> _Backend:
        settings = channel.settings or {}
        security = settings.get("security") or "starttls"
        if security not in SECURITY:
            raise ProviderError(f"Security must be one of {', '.join(SECURITY)}, not '{security}'.")
        host = (settings.get("host") or "").strip()
        if not host:
            raise ProviderError("The channel has no SMTP server host.")
        try:
            port = int(settings.get("port") or DEFAULT_PORTS[security])
        except ValueError:
            raise ProviderError(f"The port '{settings.get('port')}' is not a number.") from None
        _, _, address = outbound.resolve_checked(
            f"http://{host}:{port}/",
            allowed=outbound.networks(django_settings.CHANNELS_PROVIDER_ALLOWED_NETWORKS),
            setting="CHANNELS_PROVIDER_ALLOWED_NETWORKS",
        )
        creds = channel.credentials
        return _Backend(
            address=address,
            host=host,
            port=port,
            username=creds.get("username", ""),
            password=creds.get("password", ""),
            use_tls=security == "starttls",
            use_ssl=security == "ssl",
            timeout=max(0.1, deadline - time.monotonic()),
            fail_silently=False,
        )

    def send(self, channel, message: Outbound) -> SendResult:
        out = compose(channel, message)
        try:
            backend = self._backend(channel, message.deadline)
        except outbound.Refused as exc:
            return SendResult.failed("refused", f"The channel's SMTP server may not be called: {exc}.")
        except ProviderError as exc:
            return SendResult.failed("configuration", str(exc))
        remaining = message.remaining_s()
        if remaining <= 0:
            return SendResult.retry("network", "No time left for the call.")
        watchdog = threading.Timer(remaining, backend.shut)
        watchdog.daemon = True
        watchdog.start()
        try:
            backend.open()
            backend._send(out)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b"refused"))
            return self._reply(code, reply)
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult.failed(
                "auth", f"The SMTP server refused the log-in: {exc.smtp_code} {_text(exc.smtp_error)}"
            )
        except smtplib.SMTPResponseException as exc:
            return self._reply(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            late = time.monotonic() >= message.deadline
            reason = "no complete answer within the deadline" if late else (str(exc) or type(exc).__name__)
            stage = getattr(backend.live, "stage", "connecting")
            if stage == "accepted":
                pass  # the server took it; only closing failed
            elif stage == "data_written":
                return SendResult.unknown(
                    "no_answer", f"The SMTP server took the message but gave no answer: {reason}."
                )
            else:
                return SendResult.retry("network", f"Could not hand the message to the SMTP server: {reason}")
        finally:
            watchdog.cancel()
            try:
                backend.close()
            except (smtplib.SMTPException, OSError):
                pass
        return SendResult.accepted(out.extra_headers["Message-ID"].strip("<>")[:100])

    @staticmethod
    def _reply(code: int, reply) -> SendResult:
        text = _text(reply)
        if 400 <= code < 500:
            return SendResult.retry(str(code), f"The SMTP server said try later: {code} {text}")
        return SendResult.failed(str(code), f"The SMTP server refused the message: {code} {text}"[:500])

    def test_credentials(self, channel) -> str:
        deadline = time.monotonic() + float(conf.get("CHANNELS_SEND_DEADLINE_S"))
        try:
            backend = self._backend(channel, deadline)
        except outbound.Refused as exc:
            raise ProviderError(f"This SMTP server may not be called: {exc}.") from None
        try:
            backend.open()
        except smtplib.SMTPAuthenticationError as exc:
            raise ProviderError(
                f"The SMTP server refused the user name or password: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ProviderError(f"Could not talk to the SMTP server: {exc or type(exc).__name__}") from None
        finally:
            try:
                backend.close()
            except (smtplib.SMTPException, OSError):
                pass
        return f"The SMTP server {backend.host}:{backend.port} accepted the log-in."

    def verify_signature(self, channel, request: WebhookRequest) -> bool:
        return False  # SMTP has no webhooks: nothing posted here is believed

    def parse_status(self, channel, request: WebhookRequest) -> list[StatusUpdate]:
        return []


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
