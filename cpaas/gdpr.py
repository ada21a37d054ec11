"""GDPR export and erasure across apps. Each app registers, in its own `<app>/gdpr.py` (found on
first use, like admin autodiscovery), what it holds about a contact and which of its models that
covers, so later apps (inbox, analytics) add to the export and the erasure without this module
knowing them:

    register(
        "channels_app",
        export=lambda contact: {...},     # JSON-able dict: the app's section of the export
        erase=lambda subject: {...},      # deletes or scrubs; returns counts
        covers=[Message, Verification],   # rows of the person: exported and erased
        copies=[SandboxDelivery],         # shared or transient rows that may copy their data:
                                          # scrubbed by `erase`, not exported (they repeat
                                          # what the covered rows say)
        not_personal={Channel: "the sender's own address"},
        identifiers=lambda contact: {"strong": [...], "names": [...]},
        unswept={ConsentEvent: "append-only"},  # never rewritten by the final sweep
    )

tests/cpaas/test_gdpr_registry.py introspects every model of every project app and fails when one
that holds contact data (a relation to Contact, directly or through another row; a contact id; an
address, file or payload column) is in no app's `covers`/`copies`/`not_personal`, or is covered
by another app than its own.

Erasure builds one `Subject` (every form of the person's identifiers, gathered from every app)
and runs the erasers in reverse INSTALLED_APPS order (apps above first, contacts near last since
it deletes the contact row, cpaas last: it scrubs the audit log of every row the others erased,
then sweeps the free text of every table of the workspace for what still quotes the person), all
in one transaction with one audit entry that holds no personal data."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils.module_loading import autodiscover_modules

from .audit import audit_record
from .models import AuditEntry, Invitation, RealtimeEvent
from .tenancy import Actor

CONFIRMATION_WORD = "ERASE"
ERASED = "[erased]"

Exporter = Callable[[object], dict]


@dataclass(frozen=True)
class Registration:
    app: str
    export: Exporter
    erase: Callable[[Subject], dict | None]
    covers: tuple[str, ...] = ()
    copies: tuple[str, ...] = ()
    not_personal: dict[str, str] = field(default_factory=dict)
    identifiers: Callable[[object], dict] | None = None
    unswept: dict[str, str] = field(default_factory=dict)


_registry: dict[str, Registration] = {}
_discovered = False


def _label(model) -> str:
    return model if isinstance(model, str) else model._meta.label


def register(
    app: str,
    *,
    export: Exporter,
    erase: Callable[[Subject], dict | None],
    covers: Iterable = (),
    copies: Iterable = (),
    not_personal: dict | None = None,
    identifiers: Callable[[object], dict] | None = None,
    unswept: dict | None = None,
) -> Registration:
    """Register an app's part of the export and the erasure (see the module docstring)."""
    registration = Registration(
        app=app,
        export=export,
        erase=erase,
        covers=tuple(_label(m) for m in covers),
        copies=tuple(_label(m) for m in copies),
        not_personal={_label(m): why for m, why in (not_personal or {}).items()},
        identifiers=identifiers,
        unswept={_label(m): why for m, why in (unswept or {}).items()},
    )
    _registry[app] = registration
    return registration


def registrations() -> dict[str, Registration]:
    """Every app's registration, in INSTALLED_APPS order (whatever order the modules were
    imported in): erasure runs them backwards, so the contact row goes after the rows above it."""
    global _discovered
    if not _discovered:
        autodiscover_modules("gdpr")
        _discovered = True
    order = {config.label: index for index, config in enumerate(apps.get_app_configs())}
    return {name: _registry[name] for name in sorted(_registry, key=lambda name: order.get(name, len(order)))}


# --- coverage: every model that holds contact data is some app's business ---------------------

_ADDRESS_NAME = re.compile(
    r"(^|_)(address|addresses|phone|phones|email|emails|msisdn|to|from|recipient|destination|ip)$"
)
# what a provider, a browser or a person sent, kept as it came: it quotes whoever it was about
_PAYLOAD_NAME = re.compile(r"(^|_)(payload|raw|body|content|request|response)$")
_CONTACT_ID_NAME = re.compile(r"(^|_)contacts?(_ids?)?$")
CONTACT_RELATION = "relation to Contact"


def personal_markers(model) -> list[str]:
    """Why a model looks like it holds contact data: a relation to Contact (directly or through
    another row), a contact id column, an address column, a stored file (uploads hold many
    people's rows), a payload column (a webhook's or a push's body quotes whoever it was about)."""
    contact = apps.get_model("contacts", "Contact")
    found = []
    for f in model._meta.get_fields():
        if f.is_relation:
            if f.auto_created or not (f.concrete or f.many_to_many):
                continue
            if f.related_model is contact:
                found.append(f"{CONTACT_RELATION} ({f.name})")
            elif f.related_model is not model and _related_to_contact(f.related_model, {model}):
                # a step of an enrolment, a status change of a message: the person's rows too
                found.append(f"{CONTACT_RELATION} through {f.related_model._meta.label} ({f.name})")
            continue
        if not getattr(f, "concrete", False):
            continue
        numeric = isinstance(
            f, models.IntegerField | models.FloatField | models.DecimalField | models.BooleanField
        )
        if _CONTACT_ID_NAME.search(f.name):
            found.append(f"contact id column ({f.name})")
        elif numeric:  # a limit such as per_ip, not an address
            continue
        elif _ADDRESS_NAME.search(f.name):
            found.append(f"address column ({f.name})")
        elif isinstance(f, models.BinaryField | models.FileField):
            found.append(f"stored file ({f.name})")
        elif _PAYLOAD_NAME.search(f.name):
            found.append(f"payload column ({f.name})")
    return found


def _related_to_contact(model, seen: set) -> bool:
    contact = apps.get_model("contacts", "Contact")
    seen = seen | {model}
    for f in model._meta.get_fields():
        if f.is_relation and not f.auto_created and f.concrete and f.related_model not in seen:
            if f.related_model is contact or _related_to_contact(f.related_model, seen):
                return True
    return False


def project_app_configs() -> list:
    """The apps of this repository (not Django's or a package's)."""
    root = Path(settings.BASE_DIR).resolve()
    return [
        config
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(root) and "site-packages" not in config.path
    ]


def coverage_problems() -> list[str]:
    """Every model of every project app that holds contact data must be in its own app's
    registration: `covers` (exported and erased), `copies` (scrubbed) or `not_personal` (why).
    A model related to Contact holds the person's own rows, so it must be in `covers`."""
    owner: dict[str, tuple[str, str]] = {}
    problems = []
    labels = {config.label for config in apps.get_app_configs()}
    for reg in registrations().values():
        if reg.app not in labels:
            problems.append(
                f"register('{reg.app}'): not an app label (erasure order follows INSTALLED_APPS)."
            )
        for kind in ("covers", "copies", "not_personal", "unswept"):
            for label in getattr(reg, kind):
                if kind != "unswept":
                    owner[label] = (reg.app, kind)
                try:
                    apps.get_model(label)
                except LookupError:
                    problems.append(f"{reg.app}/gdpr.py names {label}, which is not a model.")
    for config in project_app_configs():
        for model in config.get_models(include_auto_created=True):
            markers = personal_markers(model)
            label = model._meta.label
            if not markers:
                continue
            if label not in owner:
                problems.append(
                    f"{label} holds contact data ({'; '.join(markers)}) but no gdpr.py covers it: add it to "
                    f"register(covers=/copies=/not_personal=) in {config.label}/gdpr.py, with an exporter "
                    "and an eraser that handle it."
                )
                continue
            app, kind = owner[label]
            if app != config.label:
                problems.append(f"{label} is registered by {app}/gdpr.py; its own app {config.label} must.")
            if kind != "covers" and any(m.startswith(CONTACT_RELATION) for m in markers):
                problems.append(
                    f"{label} has a {CONTACT_RELATION}: its rows are the person's, list it in covers=."
                )
    return problems


# --- the data subject: every form of the person's identifiers ---------------------------------

_SEP = r"[\s\-.()/]*"  # what people and spreadsheets put between a phone number's digits


def _phone_pattern(value: str) -> str | None:
    """A pattern for the number in any written form: +44 7700 900123, 447700900123, 07700-900123,
    0044 (0)7700 900123, 7700900123; never inside a longer run of digits."""
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return None
    try:
        number = phonenumbers.parse("+" + digits.removeprefix("00"))
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(number)
    country = str(number.country_code)
    prefix = rf"(?:(?:\+|00)?{_SEP}{_SEP.join(country)}{_SEP}(?:\(0\){_SEP})?|0{_SEP})?"
    return rf"(?<!\d){prefix}{_SEP.join(national)}(?!\d)"


def _literal_pattern(value: str) -> str:
    return rf"(?<![\w.+-]){re.escape(value)}(?![\w-]|\.\w)"


def _looks_like_phone(value: str) -> bool:
    return bool(re.fullmatch(r"\+?[\d\s\-.()/]{7,}", value)) and sum(ch.isdigit() for ch in value) >= 7


class Subject:
    """The person being erased, as the erasers see them: the contact (still there until the
    contacts eraser runs), who erases, when, and matchers for their identifiers in free text.

    `strong` identifiers (phone numbers, emails, channel ids, external id) tie a shared row to the
    person, so a row that mentions one is theirs to scrub; names alone do not (another person may
    share them), but every name is scrubbed from a row that is theirs."""

    def __init__(
        self, *, contact, actor: Actor, at: dt.datetime, strong: Iterable[str], names: Iterable[str]
    ):
        self.contact = contact
        self.contact_id = contact.pk
        self.workspace_id = contact.workspace_id
        self.actor = actor
        self.at = at
        self.strong = sorted({str(s).strip() for s in strong if s and str(s).strip()})
        self.names = sorted({str(n).strip() for n in names if n and len(str(n).strip()) >= 2})
        strong_patterns = []
        for value in self.strong:
            pattern = _phone_pattern(value) if _looks_like_phone(value) else None
            if pattern:
                strong_patterns.append(pattern)
            elif len(value) >= 5 or "@" in value:  # "42" in free text is not this person
                strong_patterns.append(_literal_pattern(value))
        name_patterns = [rf"(?<!\w){re.escape(n)}(?!\w)" for n in self.names]
        self._strong = re.compile("|".join(strong_patterns), re.IGNORECASE) if strong_patterns else None
        self._any = (
            re.compile("|".join(strong_patterns + name_patterns), re.IGNORECASE)
            if (strong_patterns or name_patterns)
            else None
        )
        self._exact = {value.casefold() for value in self.strong if len(value) >= 5 or "@" in value}
        # (model label, pk) of every row an eraser deleted or scrubbed: their audit entries
        # lose their labels and personal data too.
        self.erased_rows: set[tuple[str, str]] = {("contacts.contact", str(contact.pk))}

    @staticmethod
    def _texts(value) -> Iterable[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, bytes | bytearray | memoryview):
            yield bytes(value).decode("utf-8", errors="replace")
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int | float):
            yield str(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from Subject._texts(key)
                yield from Subject._texts(item)
        elif isinstance(value, list | tuple | set):
            for item in value:
                yield from Subject._texts(item)

    def mentions(self, value, *, names: bool = False) -> bool:
        """Whether `value` (text, or JSON-like data) holds a strong identifier (or a name too)."""
        matcher = self._any if names else self._strong
        return matcher is not None and any(matcher.search(text) for text in self._texts(value))

    def is_identifier(self, text: str) -> bool:
        """Whether a whole value (a CSV cell, an address) is one of the person's identifiers."""
        text = (text or "").strip()
        if not text:
            return False
        if text.casefold() in self._exact:
            return True
        return self._strong is not None and self._strong.fullmatch(text) is not None

    def scrub(self, value):
        """`value` with every identifier and name replaced by [erased], keys included."""
        if isinstance(value, str):
            return self._any.sub(ERASED, value) if self._any is not None else value
        if isinstance(value, int) and not isinstance(value, bool) and self.mentions(value):
            return ERASED
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def rows_erased(self, model, pks: Iterable) -> None:
        label = _label(model).lower()
        self.erased_rows.update((label, str(pk)) for pk in pks)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)  # exact, as stored
    if isinstance(value, models.Model):
        return value.pk
    return value


@transaction.atomic
def contact_export(*, contact, actor: Actor, at: dt.datetime) -> dict:
    """Everything every app holds about the contact, as one JSON-able document. Audited."""
    document = {
        "format": "cpaas.gdpr.export/1",
        "workspace": contact.workspace.name,
        "contact_id": contact.pk,
        "exported_at": at.isoformat(),
        "sections": {name: _json_safe(reg.export(contact)) for name, reg in sorted(registrations().items())},
    }
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action="gdpr.contact.exported",
        at=at,
        data={"contact_id": contact.pk, "sections": sorted(document["sections"])},
    )
    return document


def subject_of(contact, *, actor: Actor, at: dt.datetime) -> Subject:
    strong, names = [], []
    for reg in registrations().values():
        if reg.identifiers is not None:
            found = reg.identifiers(contact)
            strong += list(found.get("strong", ()))
            names += list(found.get("names", ()))
    return Subject(contact=contact, actor=actor, at=at, strong=strong, names=names)


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
    subject = subject_of(contact, actor=actor, at=at)
    done = {}
    for name, reg in reversed(list(registrations().items())):
        done[name] = reg.erase(subject) or {}
    # The reason is typed by an admin and may name the person: keep it, without their data.
    audit_record(
        workspace=workspace,
        actor=actor,
        action="gdpr.contact.erased",
        at=at,
        data={"contact_id": contact_id, "reason": subject.scrub(reason[:500]), "erased": done},
    )
    return done


# --- what cpaas itself holds: audit entries, realtime rows, background task rows --------------


def _export(contact) -> dict:
    entries = AuditEntry.objects.filter(
        workspace_id=contact.workspace_id, target_type="contacts.contact", target_id=str(contact.pk)
    ).order_by("created_at", "id")
    return {
        "audit": list(entries.values("created_at", "actor_label", "action", "data")),
    }


def _about_contact(data, contact_id: int) -> bool:
    """Whether audit data names the contact by id ({"contact_id": 5}, {"contacts": [5, 6]})."""
    if not isinstance(data, dict):
        return False
    for key in ("contact", "contact_id"):
        if data.get(key) == contact_id:
            return True
    contacts = data.get("contacts")
    return isinstance(contacts, list) and contact_id in contacts


def _audit_scrub(subject: Subject) -> int:
    """Keep who did what; drop the person's data from labels and data. An entry is theirs when
    it targets a row an eraser removed, names the contact's id, or holds a strong identifier."""
    strong = [s for s in subject.strong if len(s) >= 5 or "@" in s]
    digits = {re.sub(r"\D", "", s)[-9:] for s in strong if _looks_like_phone(s)}
    query = (
        models.Q(target_type="contacts.contact", target_id=str(subject.contact_id))
        | models.Q(data__contact_id=subject.contact_id)
        | models.Q(data__contact=subject.contact_id)
    )
    for text in [*strong, *digits]:
        query |= models.Q(target_label__icontains=text) | models.Q(data__icontains=text)
    candidates = AuditEntry.objects.filter(workspace_id=subject.workspace_id).filter(query)
    # Entries about rows erased by other apps, found by their (type, id).
    by_type: dict[str, list[str]] = {}
    for target_type, target_id in subject.erased_rows:
        by_type.setdefault(target_type, []).append(target_id)
    for target_type, ids in by_type.items():
        candidates |= AuditEntry.objects.filter(
            workspace_id=subject.workspace_id, target_type=target_type, target_id__in=ids
        )
    changed = []
    for entry in candidates.distinct():
        target = (entry.target_type, entry.target_id)
        label = entry.target_label
        if target in subject.erased_rows or subject.mentions(label, names=True):
            label = f"erased {entry.target_type.rsplit('.', 1)[-1]} #{entry.target_id}"
        data = subject.scrub(entry.data)
        if label != entry.target_label or data != entry.data:
            entry.target_label, entry.data = label, data
            changed.append(entry)
    AuditEntry.objects.bulk_update(changed, ["target_label", "data"], batch_size=500)
    return len(changed)


def _realtime_scrub(subject: Subject) -> int:
    """Realtime rows are copies in flight (contact rows, simulator bubbles) kept 10 minutes:
    delete those of the workspace that show the person; a missed live update is harmless."""
    prefix = f"ws.{subject.workspace_id}."
    doomed = [
        pk
        for pk, payload in RealtimeEvent.objects.filter(group__startswith=prefix).values_list("pk", "payload")
        if subject.mentions(payload, names=True) or _about_contact(payload, subject.contact_id)
    ]
    RealtimeEvent.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _tasks_scrub(subject: Subject) -> int:
    """django-q2 keeps failed tasks (arguments are ids, but an error text may quote a value,
    as PostgreSQL's unique-violation DETAIL does): scrub the person's identifiers from them."""
    from django_q.models import Task

    changed = 0
    for task in Task.objects.all().iterator():
        fields = {"args": task.args, "kwargs": task.kwargs, "result": task.result, "name": task.name}
        if not subject.mentions(list(fields.values())):
            continue
        for name, value in fields.items():
            setattr(task, name, subject.scrub(value))
        task.save(update_fields=list(fields))
        changed += 1
    return changed


def _workspace_path(model) -> str | None:
    """The lookup from a model to its workspace id (directly or through one foreign key)."""
    names = {f.name: f for f in model._meta.concrete_fields if f.is_relation}
    if "workspace" in names and names["workspace"].related_model._meta.label == "cpaas.Workspace":
        return "workspace_id"
    for f in names.values():
        if f.related_model is not model and any(
            g.name == "workspace" and g.is_relation for g in f.related_model._meta.concrete_fields
        ):
            return f"{f.name}__workspace_id"
    return None


def _free_text_fields(model) -> list:
    """Columns that may quote anyone: text and JSON, not the row's own address or identity
    columns (a unique value, a status choice), which belong to whoever the row is about."""
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField)
        and not (isinstance(f, models.CharField) and (f.max_length or 0) < 7)  # a code, not text
        and not f.primary_key
        and not f.unique
        and not f.choices
        and not _ADDRESS_NAME.search(f.name)
    ]


def _sweep(subject: Subject) -> dict[str, int]:
    """The net under every eraser: rows of the workspace in any project model that still quote
    one of the person's strong identifiers in free text (another contact's message that gives
    their number, an enrolment context, a segment rule, a table a later app adds) lose the
    person's identifiers and names there. Apps name the models that must never be rewritten
    (`unswept`, e.g. append-only evidence)."""
    unswept = {label for reg in registrations().values() for label in reg.unswept}
    # A first cut in SQL that both databases run (PostgreSQL's regex, the REGEXP function Django
    # gives SQLite); Python's matcher decides. A phone's digits may be split by separators.
    literals = [s for s in subject.strong if not _looks_like_phone(s) and (len(s) >= 5 or "@" in s)]
    # (its last two digits first: LIKE is cheap, SQLite's REGEXP calls Python for every row)
    phones = {
        (digits[-2:], "[^0-9]{0,4}".join(digits[-8:]))
        for digits in (re.sub(r"\D", "", s) for s in subject.strong if _looks_like_phone(s))
    }
    if not (literals or phones):
        return {}
    swept = {}
    for config in project_app_configs():
        for model in config.get_models():
            path = _workspace_path(model)
            fields = _free_text_fields(model)
            if model._meta.label in unswept or path is None or not fields:
                continue
            texts = {f"_gdpr_{f.attname}": Cast(f.attname, models.TextField()) for f in fields}
            query = models.Q()
            for alias in texts:
                for literal in literals:
                    query |= models.Q(**{f"{alias}__icontains": literal})
                for last, pattern in phones:
                    query |= models.Q(**{f"{alias}__contains": last}) & models.Q(
                        **{f"{alias}__regex": pattern}
                    )
            names = [f.attname for f in fields]
            rows = (
                model._default_manager.filter(**{path: subject.workspace_id}).annotate(**texts).filter(query)
            )
            count = 0
            for row in rows.values(model._meta.pk.attname, *names).iterator():
                # only the values that quote them: another person's row keeps its own name
                changes = {name: subject.scrub(row[name]) for name in names if subject.mentions(row[name])}
                if changes:  # else the first cut matched something else
                    model._default_manager.filter(pk=row[model._meta.pk.attname]).update(**changes)
                    count += 1
            if count:
                swept[model._meta.label] = count
    return swept


def _erase(subject: Subject) -> dict:
    return {
        "realtime": _realtime_scrub(subject),
        "tasks": _tasks_scrub(subject),
        "audit": _audit_scrub(subject),
        "swept": _sweep(subject),
    }


register(
    "cpaas",
    export=_export,
    erase=_erase,
    covers=[AuditEntry],
    copies=[RealtimeEvent, "django_q.Task"],
    not_personal={Invitation: "the email of a team member invited to the workspace, not a contact's"},
)
