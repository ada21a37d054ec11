"""Finding (or creating) the contact behind an address a provider or an API caller gives us.
What a contact's address is on each kind, and which kinds share the phone number, is defined
once in contacts.addresses (consent uses it too); re-exported here for channels_app."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from contacts.addresses import PHONE_KINDS, contact_address, is_phone_address, missing_address_reason
from contacts.models import Contact
from contacts.validation import normalize_phone

__all__ = ["PHONE_KINDS", "contact_address", "missing_address_reason", "normalize_address", "contact_find"]


def normalize_address(workspace, kind: str, raw: str) -> str:
    raw = str(raw or "").strip()
    if not raw:
        raise ValidationError({"to": ["An address is required."]})
    if is_phone_address(kind, raw):
        try:
            return normalize_phone(raw, workspace.default_country)
        except ValueError as exc:
            raise ValidationError({"to": [str(exc)]}) from None
    if kind == "email":
        try:
            validate_email(raw)
        except ValidationError:
            raise ValidationError({"to": [f"'{raw}' is not an email address."]}) from None
        return raw.lower()
    if len(raw) > 200:
        raise ValidationError({"to": ["At most 200 characters."]})
    return raw


def contact_find(workspace, kind: str, address: str) -> Contact | None:
    qs = Contact.objects.filter(workspace=workspace)
    if kind in ("sms", "voice"):
        return qs.filter(phone=address).first()
    if kind in PHONE_KINDS:  # their own id first, else the phone number
        return qs.filter(**{f"addresses__{kind}": address}).first() or qs.filter(phone=address).first()
    if kind == "email":
        return qs.filter(email__iexact=address).order_by("pk").first()
    return qs.filter(**{f"addresses__{kind}": address}).first()


def contact_find_or_create(workspace, kind: str, address: str, actor) -> tuple[Contact, bool]:
    """The contact with this address, or a new one created through the contacts service (so its
    validation, audit entry and live list update apply)."""
    from contacts.services import contact_create

    contact = contact_find(workspace, kind, address)
    if contact is not None:
        return contact, False
    if is_phone_address(kind, address):
        data = {"phone": address}
    elif kind == "email":
        data = {"email": address}
    else:
        data = {"addresses": {kind: address}}
    try:
        return contact_create(workspace=workspace, actor=actor, data=data), True
    except ValidationError:
        # A concurrent inbound created it first (phone is unique per workspace).
        contact = contact_find(workspace, kind, address)
        if contact is None:
            raise
        return contact, False
