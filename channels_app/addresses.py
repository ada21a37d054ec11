"""A contact's address on each channel kind, and finding (or creating) the contact behind an
address a provider gives us."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from contacts.models import Contact
from contacts.validation import normalize_phone

PHONE_KINDS = frozenset({"sms", "voice", "whatsapp", "rcs"})


def contact_address(contact: Contact, kind: str) -> str | None:
    addresses = contact.addresses or {}
    if kind in ("sms", "voice"):
        return contact.phone or None
    if kind in ("whatsapp", "rcs", "viber"):  # their own id when set, else the phone number
        return addresses.get(kind) or contact.phone or None
    if kind == "email":
        return contact.email or None
    return addresses.get(kind) or None


def missing_address_reason(contact: Contact, kind: str) -> str:
    what = {"sms": "phone number", "voice": "phone number", "email": "email address"}.get(
        kind,
        f"{kind} address (or phone number)" if kind in ("whatsapp", "rcs", "viber") else f"{kind} address",
    )
    return f"{contact.display_name} has no {what} for {kind}."


def normalize_address(workspace, kind: str, raw: str) -> str:
    raw = str(raw or "").strip()
    if not raw:
        raise ValidationError({"to": ["An address is required."]})
    if kind in PHONE_KINDS:
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
    if kind in ("whatsapp", "rcs", "viber"):
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
    if kind in PHONE_KINDS:
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
