"""GDPR export and erasure across apps. Each app registers what it holds about a contact in its
own `<app>/gdpr.py` (found on first use, like admin autodiscovery), so later apps (messages,
journeys, conversations) add to the export and the erasure without this module knowing them:

    register_exporter("consent", lambda contact: {...})       # JSON-able dict
    register_eraser("consent", lambda contact, actor: {...})  # deletes; returns counts

Erasers run in reverse registration order (apps above first, contacts last, since contacts
deletes the contact row itself), all in one transaction with one audit entry that holds no
personal data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from .audit import audit_record
from .models import AuditEntry
from .tenancy import Actor

Exporter = Callable[[object], dict]
Eraser = Callable[[object, Actor], dict | None]

_exporters: dict[str, Exporter] = {}
_erasers: dict[str, Eraser] = {}
_discovered = False

CONFIRMATION_WORD = "ERASE"


def register_exporter(name: str, fn: Exporter) -> Exporter:
    _exporters[name] = fn
    return fn


def register_eraser(name: str, fn: Eraser) -> Eraser:
    _erasers[name] = fn
    return fn


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("gdpr")
        _discovered = True


def exporters() -> dict[str, Exporter]:
    _discover()
    return dict(_exporters)


def erasers() -> dict[str, Eraser]:
    _discover()
    return dict(_erasers)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


@transaction.atomic
def contact_export(*, contact, actor: Actor, at: dt.datetime) -> dict:
    """Everything every app holds about the contact, as one JSON-able document. Audited."""
    document = {
        "format": "cpaas.gdpr.export/1",
        "workspace": contact.workspace.name,
        "contact_id": contact.pk,
        "exported_at": at.isoformat(),
        "sections": {name: _json_safe(fn(contact)) for name, fn in sorted(exporters().items())},
    }
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action="gdpr.contact.exported",
        at=at,
        data={"contact_id": contact.pk, "sections": sorted(document["sections"])},
    )
    return document


@transaction.atomic
def contact_erase(*, contact, actor: Actor, reason: str, confirmation: str, at: dt.datetime) -> dict:
    """Erase the contact's personal data in every app; what must stay (suppression hashes) is up
    to each app's eraser. `confirmation` must be the word ERASE. Returns counts per app."""
    errors = {}
    if (confirmation or "").strip() != CONFIRMATION_WORD:
        errors["confirmation"] = [f"Type {CONFIRMATION_WORD} to confirm."]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = ["Say why (e.g. 'Art. 17 request received 3 May, ticket 881')."]
    if errors:
        raise ValidationError(errors)
    workspace, contact_id = contact.workspace, contact.pk
    done = {}
    for name, fn in reversed(list(erasers().items())):
        done[name] = fn(contact, actor) or {}
    # Earlier audit entries named the contact: keep the entries (who did what), drop the name.
    AuditEntry.objects.filter(
        workspace=workspace, target_type="contacts.contact", target_id=str(contact_id)
    ).update(target_label=f"erased contact #{contact_id}")
    audit_record(
        workspace=workspace,
        actor=actor,
        action="gdpr.contact.erased",
        at=at,
        data={"contact_id": contact_id, "reason": reason[:500], "erased": done},
    )
    return done
