"""Which CSV column becomes which contact field: the choices, a guess from the header names, the
checks, and starting the import in the worker."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django_q.tasks import async_task

from contacts.forms import ADDRESS_FIELDS
from contacts.models import AttributeDefinition, ContactImport
from cpaas.locks import lock_refresh
from cpaas.models import Workspace
from cpaas.tenancy import Actor

IDENTIFIERS = ("external_id", "phone", "email")

BASE_FIELDS = [
    ("external_id", "External id"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("language", "Language"),
    ("timezone", "Time zone"),
    ("preferred_channel", "Preferred channel"),
    ("tags", "Tags (comma separated)"),
    ("is_vulnerable", "Vulnerable customer (yes/no)"),
    ("vulnerability_note", "Vulnerability note"),
] + [(f"address_{kind}", label) for kind, label in ADDRESS_FIELDS.items()]

# Header names (lower case, without spaces, underscores, dashes and dots) read as each field.
SYNONYMS = {
    "external_id": [
        "externalid", "id", "customerid", "clientid", "accountid", "contactid", "crmid", "userid",
        "reference", "ref", "customerref", "customerreference", "customernumber", "accountnumber",
    ],
    "first_name": ["firstname", "first", "givenname", "forename", "fname"],
    "last_name": ["lastname", "last", "surname", "familyname", "lname"],
    "phone": [
        "phone", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobilephone", "mobileno", "msisdn",
        "cell", "cellphone", "cellnumber", "tel", "telephone", "telephonenumber", "gsm", "number",
    ],
    "email": ["email", "emailaddress", "mail", "e-mail"],
    "language": ["language", "lang", "locale", "languagecode"],
    "timezone": ["timezone", "tz", "zone"],
    "preferred_channel": ["preferredchannel", "channel"],
    "tags": ["tags", "tag", "labels", "groups"],
    "is_vulnerable": ["isvulnerable", "vulnerable", "vulnerability"],
    "vulnerability_note": ["vulnerabilitynote", "vulnerabilitynotes"],
    "address_whatsapp": ["whatsapp", "whatsappid", "whatsappnumber", "addresswhatsapp"],
    "address_messenger": ["messenger", "messengerid", "facebookmessenger", "addressmessenger"],
    "address_viber": ["viber", "viberid", "addressviber"],
}  # fmt: skip


def _norm(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "", name.strip().lower())


def mapping_fields(*, workspace: Workspace) -> list[tuple[str, str]]:
    """What a CSV column can be imported as: (value, label), attributes last."""
    attributes = [
        (f"attribute:{d.key}", f"{d.label} (attribute, {d.get_type_display().lower()})")
        for d in AttributeDefinition.objects.filter(workspace=workspace)
    ]
    return BASE_FIELDS + attributes


def mapping_guess(*, headers: list[str], workspace: Workspace) -> dict[str, str]:
    """{column: field} for the columns whose names say what they hold."""
    by_name: dict[str, str] = {}
    for field_name, names in SYNONYMS.items():
        for name in [field_name, *names]:
            by_name.setdefault(_norm(name), field_name)
    for d in AttributeDefinition.objects.filter(workspace=workspace):
        for name in (d.key, d.label):
            by_name.setdefault(_norm(name), f"attribute:{d.key}")
    mapping, used = {}, set()
    for header in headers:
        guess = by_name.get(_norm(header))
        if guess and guess not in used:
            mapping[header] = guess
            used.add(guess)
    return mapping


def mapping_clean(*, mapping: dict[str, str], headers: list[str], workspace: Workspace) -> dict[str, str]:
    """Only known columns and fields, each field once, and an identifier; errors per column."""
    labels = dict(mapping_fields(workspace=workspace))
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    first_column: dict[str, str] = {}
    for header in headers:
        value = (mapping.get(header) or "").strip()
        if not value:
            continue
        if value not in labels:
            errors[header] = [f"Unknown field '{value}'."]
        elif value in first_column:
            errors[header] = [f"{labels[value]} is already imported from column '{first_column[value]}'."]
        else:
            first_column[value] = header
            clean[header] = value
    unknown = set(mapping) - set(headers)
    if unknown:
        errors.setdefault("__all__", []).append(f"No column named '{sorted(unknown)[0]}' in the file.")
    if not errors and not set(clean.values()) & set(IDENTIFIERS):
        errors["__all__"] = [
            "Map at least one column to Phone, Email or External id: they identify each contact."
        ]
    if errors:
        raise ValidationError(errors)
    return clean


def _enqueue(import_id: int) -> None:
    transaction.on_commit(lambda: async_task("contacts.tasks.contact_import_run", import_id))


@transaction.atomic
def import_start(*, contact_import: ContactImport, actor: Actor, mapping: dict[str, str]) -> ContactImport:
    """Save the mapping and queue the import for the worker (after commit)."""
    locked = lock_refresh(contact_import)
    if locked.status != ContactImport.Status.UPLOADED:
        raise ValidationError(f"This import has already started ({locked.get_status_display().lower()}).")
    locked.mapping = mapping_clean(mapping=mapping, headers=locked.headers, workspace=locked.workspace)
    locked.status = ContactImport.Status.QUEUED
    locked.save(update_fields=["mapping", "status"])
    _enqueue(locked.pk)
    return locked


@transaction.atomic
def import_retry_skipping(*, contact_import: ContactImport, actor: Actor) -> ContactImport:
    """A failed import again, same file and mapping, now skipping the invalid rows."""
    if contact_import.status != ContactImport.Status.FAILED:
        raise ValidationError("Only a failed import can be tried again.")
    again = ContactImport.objects.create(
        workspace=contact_import.workspace,
        created_by=actor.user if actor.kind == "user" else None,
        filename=contact_import.filename,
        content=bytes(contact_import.content),
        encoding=contact_import.encoding,
        headers=contact_import.headers,
        mapping=contact_import.mapping,
        skip_invalid_rows=True,
        tag_names=contact_import.tag_names,
        total_rows=contact_import.total_rows,
        status=ContactImport.Status.QUEUED,
    )
    _enqueue(again.pk)
    return again
