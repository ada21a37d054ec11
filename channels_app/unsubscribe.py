"""One-click unsubscribe for email (RFC 8058), owned by the core so every email provider gets it.

Each email of a purpose people subscribe to carries
`List-Unsubscribe: <https://…/unsubscribe/<token>/>, <mailto:…?subject=unsubscribe%20<token>>` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`. The token is the message, signed
(`django.core.signing`, keyed by SECRET_KEY): it names the workspace and the message, so it acts
on that message's contact and purpose only, and a changed token is refused. The URL needs no
log-in: a mail client POSTs `List-Unsubscribe=One-Click` to it with no user interaction, which
records the opt-out at once (with the request as evidence); a GET (a person's click, or a
scanner prefetching the link) only shows a confirmation page whose button POSTs. Repeating the
POST changes nothing more.

OTP and transactional mail carry no header: Gmail and Yahoo exempt transactional mail, and an
unsubscribe must not stop the account notices a contract needs."""

from __future__ import annotations

import datetime as dt
import urllib.parse

from django.core import signing

from . import conf, consent_gate
from .models import Message

SALT = "channels_app.unsubscribe"
EXEMPT_PURPOSES = frozenset({"otp", "transactional"})
ONE_CLICK = "List-Unsubscribe=One-Click"


def wanted(kind: str, purpose: str) -> bool:
    return kind == "email" and purpose not in EXEMPT_PURPOSES


def token_for(message: Message) -> str:
    return signing.dumps({"w": message.workspace_id, "m": message.pk}, salt=SALT, compress=True)


def message_for(token: str) -> Message | None:
    """The email a token was made for, or None (a forged or changed token, a message erased)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    return (
        Message.objects.select_related("contact__workspace", "workspace")
        .filter(pk=data.get("m"), workspace_id=data.get("w"), kind="email", direction="out")
        .first()
    )


# the path of the `email_unsubscribe` URL, written out: the dispatcher builds it inside a send's
# deadline, where a first reverse() would import every URLconf (tests check it matches)
PATH = "/unsubscribe/{token}/"


def url_for(message: Message) -> str:
    base = str(conf.get("CHANNELS_PUBLIC_URL")).rstrip("/")
    return base + PATH.format(token=token_for(message))


def headers_for(message: Message, mailbox: str) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers (empty for a purpose that carries none). `mailbox`: where
    a mailto unsubscribe goes (the channel's reply address)."""
    if not wanted(message.kind, message.purpose):
        return {}
    token = token_for(message)
    links = [f"<{url_for(message)}>"]
    if mailbox:
        links.append(f"<mailto:{mailbox}?subject={urllib.parse.quote('unsubscribe ' + token)}>")
    return {"List-Unsubscribe": ", ".join(links), "List-Unsubscribe-Post": ONE_CLICK}


def unsubscribe(
    message: Message, *, at: dt.datetime, one_click: bool, url: str, ip: str | None, user_agent: str
) -> bool:
    """Record the opt-out of the message's purpose on email, with the request as evidence.
    Returns False when the contact was already out (nothing new written)."""
    how = "one-click (RFC 8058 List-Unsubscribe-Post)" if one_click else "the unsubscribe page's button"
    return consent_gate.unsubscribe(
        contact=message.contact,
        kind="email",
        purpose=message.purpose,
        at=at,
        reason=f"Unsubscribed from email #{message.pk} by {how}.",
        evidence={
            "url": url[:500],
            "ip_address": ip or None,
            "user_agent": (user_agent or "")[:400],
            "notice_text": f"List-Unsubscribe link of email #{message.pk} ({message.purpose})",
        },
        actor_label="the recipient (email unsubscribe link)",
    )
