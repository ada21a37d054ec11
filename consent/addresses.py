"""A contact's address on a channel kind, normalised and hashed for the suppression list.

A phone number is one identity whichever phone channel reaches it (SMS, voice, WhatsApp, RCS,
Viber), so its hash is the same for all of them: `sha256("phone:+447911123456")`. Which kinds
those are, and a contact's address on each, is defined once in contacts.addresses."""

from __future__ import annotations

import hashlib
import re

from contacts.addresses import PHONE_KINDS, contact_address
from contacts.models import ChannelKind, Contact

_NOT_DIGIT = re.compile(r"\D")


def address_kind(channel_kind: str) -> str:
    """What identifies a person on the channel: 'phone', 'email', or the kind itself."""
    if channel_kind in PHONE_KINDS:
        return "phone"
    return "email" if channel_kind == ChannelKind.EMAIL else str(channel_kind)


def normalise(kind: str, address: str) -> str:
    text = str(address or "").strip()
    if kind == "phone":
        digits = _NOT_DIGIT.sub("", text)
        if text.startswith("00"):
            digits = digits[2:]
        return "+" + digits if digits else ""
    if kind == "email":
        return text.lower()
    return text


def address_hash(kind: str, address: str) -> str:
    return _digest(kind, normalise(kind, address))


def _digest(kind: str, normal: str) -> str:
    return hashlib.sha256(f"{kind}:{normal}".encode()).hexdigest()


def contact_hash(contact: Contact, channel_kind: str) -> str | None:
    kind = address_kind(channel_kind)
    normal = normalise(kind, contact_address(contact, channel_kind))
    return _digest(kind, normal) if normal else None


def contact_identities(contact: Contact) -> dict[str, tuple[str, str]]:
    """Every distinct identity of the contact: hash -> (address kind, address)."""
    out: dict[str, tuple[str, str]] = {}
    for channel_kind in ChannelKind.values:
        address = contact_address(contact, channel_kind)
        kind = address_kind(channel_kind)
        if normalise(kind, address):
            out.setdefault(address_hash(kind, address), (kind, address))
    return out


def mask(kind: str, address: str) -> str:
    """Enough to recognise, not to contact: '+44•••••••456', 'a•••@example.com'."""
    value = normalise(kind, address)
    if kind == "phone":
        return value[:3] + "•" * max(0, len(value) - 6) + value[-3:] if len(value) > 6 else "•••"
    if kind == "email" and "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:1]}•••@{domain}"[:40]
    return (value[:2] + "•••")[:40]
