"""A contact's address on each channel kind, and which kinds share the phone number as one
identity. The one definition: channels_app sends to these addresses and finds contacts by them,
consent hashes them for the suppression list. It lives here, below both (consent sits below
channels_app and needs it too).

- sms and voice go to the phone number;
- whatsapp, rcs and viber go to their own id when the contact has one, else to the phone number;
  whatsapp ids are phone numbers, rcs and viber ids may be (an id of digits is a number);
- email goes to the email address; messenger and push to their own ids.
A phone number is one identity whichever of these reaches it: suppressing it covers all of them."""

from __future__ import annotations

import re

from .models import ChannelKind, Contact

_LOOKS_LIKE_A_NUMBER = re.compile(r"^\+?[\d\s().-]{6,}$")

# kinds that reach a person by phone number (their address may be the phone number)
PHONE_KINDS = frozenset(
    {ChannelKind.SMS, ChannelKind.VOICE, ChannelKind.WHATSAPP, ChannelKind.RCS, ChannelKind.VIBER}
)
# kinds whose address is always a phone number
ALWAYS_PHONE = frozenset({ChannelKind.SMS, ChannelKind.VOICE, ChannelKind.WHATSAPP})
# kinds with an id of their own, used before the phone number
OWN_ID_FIRST = frozenset({ChannelKind.WHATSAPP, ChannelKind.RCS, ChannelKind.VIBER})


def contact_address(contact: Contact, kind: str) -> str:
    """The address a message of this kind goes to ('' when the contact has none)."""
    addresses = contact.addresses or {}
    if kind in (ChannelKind.SMS, ChannelKind.VOICE):
        return contact.phone or ""
    if kind in OWN_ID_FIRST:
        return str(addresses.get(kind) or contact.phone or "")
    if kind == ChannelKind.EMAIL:
        return contact.email or ""
    return str(addresses.get(kind) or "")


def is_phone_address(kind: str, address: str) -> bool:
    """Whether an address on this kind is a phone number (rcs / viber: when it looks like one)."""
    return kind in ALWAYS_PHONE or (
        kind in PHONE_KINDS and bool(_LOOKS_LIKE_A_NUMBER.match(str(address or "").strip()))
    )


def missing_address_reason(contact: Contact, kind: str) -> str:
    if kind in (ChannelKind.SMS, ChannelKind.VOICE):
        what = "phone number"
    elif kind == ChannelKind.EMAIL:
        what = "email address"
    elif kind in OWN_ID_FIRST:
        what = f"{kind} address (or phone number)"
    else:
        what = f"{kind} address"
    return f"{contact.display_name} has no {what} for {kind}."
