"""Turns raw contact input (a form, an API body, a CSV row) into clean values, or a
ValidationError naming each bad field. Every writer of contacts goes through `contact_clean`."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .models import ADDRESS_KINDS, AttributeDefinition, ChannelKind

CONTACT_FIELDS = (
    "external_id",
    "first_name",
    "last_name",
    "phone",
    "email",
    "language",
    "timezone",
    "preferred_channel",
    "is_vulnerable",
    "vulnerability_note",
)
TRUE_WORDS = {"1", "true", "yes", "y", "t", "on"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "off", ""}
_TIMEZONES = None


def name_split(full: str) -> dict:
    """One "Name" box (the simulator, the editor's test contact) as the contact's first and
    last name: the first word is the first name, the rest the last name ("Nia Okafor",
    "Ana de la Cruz" -> "Ana" + "de la Cruz")."""
    words = (full or "").split()
    return {"first_name": " ".join(words[:1]), "last_name": " ".join(words[1:])}


_NORMALIZED: dict[tuple[str, str], str] = {}  # (E.164, country) -> itself: checked already
_NORMALIZED_MAX = 100_000


def normalize_phone(raw: str, default_country: str) -> str:
    """E.164 or a ValueError that says why ("+44 7700" -> "too short"). A number this process
    produced already is returned as it is: parsing costs most of a batch's time per contact, and
    a batch checks each number twice (naming the contact, then cleaning it to create it)."""
    known = _NORMALIZED.get((raw, default_country)) if isinstance(raw, str) else None
    if known is not None:
        return known
    e164 = _normalize_phone(raw, default_country)
    if len(_NORMALIZED) >= _NORMALIZED_MAX:
        _NORMALIZED.clear()
    _NORMALIZED[(e164, default_country)] = e164
    return e164


def _normalize_phone(raw: str, default_country: str) -> str:
    text = str(raw).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_country)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"'{raw}' is not a phone number ({exc._msg.rstrip('.').lower()}).") from None
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible != phonenumbers.ValidationResult.IS_POSSIBLE:
        reason = {
            phonenumbers.ValidationResult.TOO_SHORT: "too short",
            phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too short: a local number without its area code",
            phonenumbers.ValidationResult.TOO_LONG: "too long",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
        }.get(possible, "wrong length for its country")
        raise ValueError(f"'{raw}' is not a valid phone number ({reason}).")
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"'{raw}' is not a valid phone number for its country.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_timezone(name: str) -> bool:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = zoneinfo.available_timezones()
    return name in _TIMEZONES


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"'{value}' is not yes/no (use true/false, yes/no or 1/0).")


def coerce_attribute(value, type_: str):
    """A value of the attribute's type (JSON-friendly), or ValueError. Empty means unset (None)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if type_ == AttributeDefinition.Type.TEXT:
        return str(value).strip()[:1000]
    if type_ == AttributeDefinition.Type.NUMBER:
        if isinstance(value, bool):
            raise ValueError(f"'{value}' is not a number.")
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"'{value}' is not a number.") from None
        if not number.is_finite():
            raise ValueError(f"'{value}' is not a number.")
        return int(number) if number == number.to_integral_value() else float(number)
    if type_ == AttributeDefinition.Type.DATE:
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()[:10]).isoformat()
        except ValueError:
            raise ValueError(f"'{value}' is not a date (use YYYY-MM-DD).") from None
    if type_ == AttributeDefinition.Type.BOOLEAN:
        return parse_bool(value)
    raise ValueError(f"unknown attribute type {type_}")


def contact_clean(*, workspace, data: dict, definitions: dict[str, str] | None = None, partial=False) -> dict:
    """Validate `data` (only the keys present when `partial`). Returns the cleaned dict;
    raises ValidationError({field: [message]}). `definitions` maps attribute key -> type and is
    looked up when not given (pass it when cleaning many rows)."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    def text(field: str, max_length: int) -> None:
        if field in data:
            value = "" if data[field] is None else str(data[field]).strip()
            if len(value) > max_length:
                fail(field, f"At most {max_length} characters (got {len(value)}).")
            else:
                clean[field] = value

    for field, size in (("first_name", 100), ("last_name", 100), ("vulnerability_note", 2000)):
        text(field, size)

    if "external_id" in data:
        value = "" if data["external_id"] is None else str(data["external_id"]).strip()
        if len(value) > 120:
            fail("external_id", "At most 120 characters.")
        clean["external_id"] = value or None

    if "phone" in data:
        raw = "" if data["phone"] is None else str(data["phone"]).strip()
        if raw:
            try:
                clean["phone"] = normalize_phone(raw, workspace.default_country)
            except ValueError as exc:
                fail("phone", str(exc))
        else:
            clean["phone"] = None

    if "email" in data:
        value = "" if data["email"] is None else str(data["email"]).strip().lower()
        if value:
            try:
                validate_email(value)
            except ValidationError:
                fail("email", f"'{value}' is not an email address.")
        clean["email"] = value

    if "language" in data:
        value = "" if data["language"] is None else str(data["language"]).strip().lower().replace("_", "-")
        if value and not (
            2 <= len(value.split("-")[0]) <= 3 and value.replace("-", "").isalpha() and len(value) <= 8
        ):
            fail("language", f"'{value}' is not a language code (use ISO 639-1 such as en, fr, pt-br).")
        clean["language"] = value

    if "timezone" in data:
        value = "" if data["timezone"] is None else str(data["timezone"]).strip()
        if value and not is_timezone(value):
            fail("timezone", f"'{value}' is not an IANA time zone (for example Europe/London).")
        clean["timezone"] = value

    if "preferred_channel" in data:
        value = "" if data["preferred_channel"] is None else str(data["preferred_channel"]).strip().lower()
        if value and value not in ChannelKind.values:
            fail("preferred_channel", f"'{value}' is not a channel kind ({', '.join(ChannelKind.values)}).")
        clean["preferred_channel"] = value

    if "is_vulnerable" in data:
        try:
            clean["is_vulnerable"] = parse_bool(data["is_vulnerable"])
        except ValueError as exc:
            fail("is_vulnerable", str(exc))

    if "addresses" in data:
        addresses = data["addresses"] or {}
        if not isinstance(addresses, dict):
            fail("addresses", 'Must be an object such as {"whatsapp": "+447911123456"}.')
        else:
            clean["addresses"] = {}
            for kind, value in addresses.items():
                if kind not in ADDRESS_KINDS:
                    fail(f"addresses.{kind}", f"Unknown address kind (use {', '.join(ADDRESS_KINDS)}).")
                elif value not in (None, ""):
                    clean["addresses"][kind] = str(value).strip()[:200]

    if "attributes" in data:
        attributes = data["attributes"] or {}
        if not isinstance(attributes, dict):
            fail("attributes", "Must be an object of attribute key to value.")
        else:
            if definitions is None:
                definitions = dict(
                    AttributeDefinition.objects.filter(workspace=workspace).values_list("key", "type")
                )
            clean["attributes"] = {}
            for key, value in attributes.items():
                if key not in definitions:
                    fail(
                        f"attributes.{key}",
                        f"Unknown attribute '{key}' (define it in Contacts → Attributes).",
                    )
                    continue
                try:
                    clean["attributes"][key] = coerce_attribute(value, definitions[key])
                except ValueError as exc:
                    fail(f"attributes.{key}", str(exc))

    if "tags" in data:
        tags = data["tags"] or []
        if isinstance(tags, str):
            tags = [t for t in (part.strip() for part in tags.split(",")) if t]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            fail("tags", "Must be a list of tag names.")
        elif any(len(t.strip()) > 60 for t in tags):
            fail("tags", "A tag has at most 60 characters.")
        else:
            clean["tags"] = sorted({t.strip() for t in tags if t.strip()})

    if not partial and not errors:
        if not (
            clean.get("phone") or clean.get("email") or clean.get("external_id") or clean.get("addresses")
        ):
            fail("phone", "Give at least a phone number, an email, an external id or a channel address.")

    if errors:
        raise ValidationError(errors)
    return clean
