"""CSV import of opt-ins and opt-outs with their evidence. Upload checks the file and its
columns; the worker (consent/tasks.py) checks every row, then writes every event in one
transaction, or nothing when any row is wrong. File reading is shared with the contact import
(contacts.imports: encodings, delimiters, physical line numbers, clear errors)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import zoneinfo
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_q.tasks import async_task

from contacts.imports import decode_csv, read_header
from contacts.models import Contact
from contacts.validation import normalize_phone
from cpaas.audit import audit_record
from cpaas.locks import lock_refresh
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from .. import selectors
from ..addresses import contact_hash
from ..models import ActorType, ConsentEvent, ConsentImport, Method, Status, Suppression
from .records import Change, _chunks, change_clean, event_actor, events_append

log = logging.getLogger(__name__)

IDENTIFIERS = ("external_id", "phone", "email")
REQUIRED = ("channel", "purpose", "status")
OPTIONAL = (
    "occurred_at", "method", "lawful_basis", "reason", "sender_scope", "jurisdiction", "expires_at",
    "notice_text", "notice_version", "url", "ip_address", "user_agent", "language", "inbound_message_id",
    "recording_id",
)  # fmt: skip
COLUMNS = IDENTIFIERS + REQUIRED + OPTIONAL
STATUS_WORDS = {
    "opted_in": Status.OPTED_IN, "opt_in": Status.OPTED_IN, "optin": Status.OPTED_IN, "in": Status.OPTED_IN,
    "subscribed": Status.OPTED_IN, "yes": Status.OPTED_IN,
    "pending": Status.PENDING,
    "opted_out": Status.OPTED_OUT, "opt_out": Status.OPTED_OUT, "optout": Status.OPTED_OUT, "out": Status.OPTED_OUT,
    "unsubscribed": Status.OPTED_OUT, "no": Status.OPTED_OUT,
}  # fmt: skip
# Service field -> CSV column, for row errors.
FIELD_COLUMNS = {"channel_kind": "channel", "evidence": "notice_text", "__all__": ""}
PREVIEW_ROWS = 10
MAX_ERRORS_KEPT = 1000
PROGRESS_EVERY = 500


def _column(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def columns_check(headers: list[str]) -> None:
    names = [_column(h) for h in headers]
    unknown = [h for h, n in zip(headers, names, strict=True) if n not in COLUMNS]
    errors = []
    if unknown:
        errors.append(f"Unknown column(s): {', '.join(unknown)}. The columns are: {', '.join(COLUMNS)}.")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        errors.append(f"Missing column(s): {', '.join(missing)}.")
    if not any(c in names for c in IDENTIFIERS):
        errors.append("Add a column that finds the contact: external_id, phone or email.")
    if errors:
        raise ValidationError({"file": errors})


@transaction.atomic
def consent_import_upload(
    *, workspace: Workspace, actor: Actor, filename: str, content: bytes
) -> ConsentImport:
    text = decode_csv(content, "utf-8-sig")
    headers, total = read_header(text)
    columns_check(headers)
    consent_import = ConsentImport.objects.create(
        workspace=workspace,
        created_by=actor.user if actor.kind == "user" else None,
        filename=(filename or "consent.csv")[:255],
        content=content,
        headers=headers,
        total_rows=total,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="consent.import.uploaded",
        target=consent_import,
        data={"rows": total},
    )
    return consent_import


# --- rows -------------------------------------------------------------------------------------------


@dataclass
class RowResult:
    line: int
    values: dict
    contact: Contact | None = None
    change: Change | None = None
    errors: list[dict] = field(default_factory=list)

    @property
    def identifier(self) -> str:
        return next((self.values[k] for k in IDENTIFIERS if self.values.get(k)), "")

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def evidence_hint(self) -> str:
        return self.values.get("notice_version") or self.values.get("notice_text") or ""


def _error(line: int, column: str, value, reason: str) -> dict:
    return {"line": line, "column": column, "value": str(value or "")[:200], "reason": reason}


def _rows(consent_import: ConsentImport):
    """(physical line, {column: value}) for every non-blank data row. The file was checked at
    upload by the contact import's reader (decode_csv, read_header), so it parses."""
    text = decode_csv(bytes(consent_import.content), "utf-8-sig")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=lambda d: (first.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    names, end = None, 0
    for row in reader:
        line, end = end + 1, reader.line_num
        if names is None:
            names = [_column(h) for h in row]
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield line, {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(names)}


def _time(value: str, zone) -> dt.datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(
                f"'{value}' is not a date or time (use 2026-05-04T10:30:00+01:00 or 2026-05-04)."
            )
        parsed = dt.datetime.combine(day, dt.time())
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=zone)  # written without a zone: the workspace's
    return parsed


class _Resolver:
    """Finds the contacts of a chunk of rows in three queries."""

    def __init__(self, workspace: Workspace, rows: list[RowResult]):
        self.workspace = workspace
        ids, phones, emails = set(), set(), set()
        for row in rows:
            v = row.values
            if v.get("external_id"):
                ids.add(v["external_id"])
            if v.get("phone"):
                try:
                    v["_phone"] = normalize_phone(v["phone"], workspace.default_country)
                    phones.add(v["_phone"])
                except ValueError as exc:
                    row.errors.append(_error(row.line, "phone", v["phone"], str(exc)))
            if v.get("email"):
                emails.add(v["email"].lower())
        qs = Contact.objects.filter(workspace=workspace).select_related("workspace")
        self.by_id = {c.external_id: c for c in qs.filter(external_id__in=ids)} if ids else {}
        self.by_phone = {c.phone: c for c in qs.filter(phone__in=phones)} if phones else {}
        self.by_email: dict[str, list[Contact]] = {}
        for c in qs.filter(email__in=emails) if emails else []:
            self.by_email.setdefault(c.email.lower(), []).append(c)

    def find(self, row: RowResult) -> Contact | None:
        v = row.values
        if v.get("external_id"):
            contact = self.by_id.get(v["external_id"])
            if contact is None:
                row.errors.append(
                    _error(row.line, "external_id", v["external_id"], "No contact has this external id.")
                )
            return contact
        if v.get("_phone"):
            contact = self.by_phone.get(v["_phone"])
            if contact is None:
                row.errors.append(_error(row.line, "phone", v["phone"], "No contact has this phone number."))
            return contact
        if v.get("email"):
            found = self.by_email.get(v["email"].lower(), [])
            if len(found) != 1:
                reason = "No contact has this email." if not found else (
                    f"{len(found)} contacts share this email: use external_id or phone."
                )  # fmt: skip
                row.errors.append(_error(row.line, "email", v["email"], reason))
                return None
            return found[0]
        if not row.errors:
            row.errors.append(
                _error(row.line, "phone", "", "Give external_id, phone or email to find the contact.")
            )
        return None


def rows_check(
    consent_import: ConsentImport, rows: list[RowResult], *, purposes: dict, at: dt.datetime
) -> None:
    """Fill each row's contact and clean change, or its errors (one chunk of rows)."""
    workspace = consent_import.workspace
    zone = zoneinfo.ZoneInfo(workspace.timezone)
    resolver = _Resolver(workspace, rows)
    for row in rows:
        row.contact = resolver.find(row)
    hashes = {
        (row.contact.pk, row.values.get("channel", "")): contact_hash(
            row.contact, row.values.get("channel", "")
        )
        for row in rows
        if row.contact is not None and row.values.get("channel")
    }
    suppressed = set(
        Suppression.objects.filter(
            workspace=workspace, address_hash__in=[h for h in hashes.values() if h]
        ).values_list("channel_kind", "address_hash")
    )
    for row in rows:
        v = row.values
        status = STATUS_WORDS.get(_column(v.get("status", "")))
        if status is None:
            row.errors.append(
                _error(row.line, "status", v.get("status"), "Use opted_in, pending or opted_out.")
            )
        times = {}
        for name in ("occurred_at", "expires_at"):
            try:
                times[name] = _time(v.get(name, ""), zone)
            except ValueError as exc:
                row.errors.append(_error(row.line, name, v.get(name), str(exc)))
        if row.contact is None or row.errors:
            continue
        channel = v.get("channel", "").lower()
        h = hashes.get((row.contact.pk, channel))
        is_suppressed = bool(h) and ((channel, h) in suppressed or ("", h) in suppressed)
        try:
            row.change = change_clean(
                Change(
                    contact=row.contact,
                    channel_kind=channel,
                    purpose=v.get("purpose", "").lower(),
                    status=status,
                    method=(v.get("method") or Method.IMPORT).lower(),
                    reason=v.get("reason") or f"Imported from {consent_import.filename}, line {row.line}",
                    lawful_basis=(v.get("lawful_basis") or "").lower(),
                    sender_scope=v.get("sender_scope", ""),
                    jurisdiction=v.get("jurisdiction", ""),
                    occurred_at=times.get("occurred_at"),
                    expires_at=times.get("expires_at"),
                    evidence={f: v[f] for f in ConsentEvent.EVIDENCE_FIELDS if v.get(f)},
                ),
                purposes=purposes,
                at=at,
                suppressed=status in (Status.OPTED_IN, Status.PENDING) and is_suppressed,
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                column = FIELD_COLUMNS.get(name, name)
                for message in messages:
                    row.errors.append(_error(row.line, column, v.get(column, ""), message))


def import_preview(*, consent_import: ConsentImport, at: dt.datetime) -> list[RowResult]:
    """The first rows, checked exactly as the import will check them."""
    rows = []
    for line, values in _rows(consent_import):
        rows.append(RowResult(line, values))
        if len(rows) >= PREVIEW_ROWS:
            break
    rows_check(
        consent_import, rows, purposes=selectors.purposes_for(workspace=consent_import.workspace), at=at
    )
    return rows


@transaction.atomic
def consent_import_start(*, consent_import: ConsentImport, actor: Actor) -> ConsentImport:
    locked = lock_refresh(consent_import)
    if locked.status != ConsentImport.Status.UPLOADED:
        raise ValidationError(f"This import has already started ({locked.get_status_display().lower()}).")
    locked.status = ConsentImport.Status.QUEUED
    locked.save(update_fields=["status"])
    transaction.on_commit(lambda: async_task("consent.tasks.consent_import_run", locked.pk))
    return locked


def _fail(import_id: int, reason: str, errors: list | None = None, error_count: int = 0) -> None:
    ConsentImport.objects.filter(pk=import_id).update(
        status=ConsentImport.Status.FAILED,
        failure_reason=reason,
        errors=(errors or [])[:MAX_ERRORS_KEPT],
        error_count=error_count,
        finished_at=timezone.now(),
    )


def consent_import_run(*, import_id: int, now: dt.datetime | None = None) -> str:
    """Check every row, then write all events in one transaction, or none. Only a queued import
    runs, so running it twice is harmless."""
    at = now or timezone.now()
    claimed = ConsentImport.objects.filter(pk=import_id, status=ConsentImport.Status.QUEUED).update(
        status=ConsentImport.Status.RUNNING, started_at=at, processed_rows=0
    )
    if not claimed:
        return "not queued"
    consent_import = ConsentImport.objects.select_related("workspace", "created_by").get(pk=import_id)
    workspace = consent_import.workspace
    purposes = selectors.purposes_for(workspace=workspace)
    try:
        checked: list[RowResult] = []
        errors: list[dict] = []
        chunk: list[RowResult] = []
        processed = 0

        def flush() -> int:
            rows_check(consent_import, chunk, purposes=purposes, at=at)
            for row in chunk:
                errors.extend(row.errors)
            checked.extend(r for r in chunk if not r.errors)
            done = processed + len(chunk)
            ConsentImport.objects.filter(pk=import_id).update(processed_rows=done)
            chunk.clear()
            return done

        for line, values in _rows(consent_import):
            chunk.append(RowResult(line, values))
            if len(chunk) >= PROGRESS_EVERY:
                processed = flush()
        if chunk:
            processed = flush()
        if errors:
            bad_rows = len({e["line"] for e in errors})
            _fail(
                import_id,
                f"{len(errors):,} problem(s) in {bad_rows:,} row(s): nothing was imported. Fix the rows listed "
                "below and upload the file again.",
                errors,
                len(errors),
            )
            return "invalid"
        ConsentImport.objects.filter(pk=import_id).update(
            status=ConsentImport.Status.WRITING, processed_rows=len(checked)
        )
        _write(consent_import, checked, at)
    except ValidationError as exc:
        _fail(import_id, " ".join(exc.messages) + " Nothing was imported.")
        return "failed"
    except Exception as exc:
        log.exception("consent import %s failed", import_id)
        _fail(
            import_id,
            f"The import stopped on an unexpected error ({type(exc).__name__}). Nothing was imported.",
        )
        return "failed"
    return "completed"


@transaction.atomic
def _write(consent_import: ConsentImport, rows: list[RowResult], at: dt.datetime) -> None:
    workspace = consent_import.workspace
    user = consent_import.created_by
    actor = Actor.for_user(user) if user else Actor.system("import")
    label = f"import #{consent_import.pk} ({consent_import.filename})"
    who = event_actor(
        Actor(kind=actor.kind, user=actor.user, label=f"{label} by {actor.label}"), ActorType.IMPORT
    )
    who["actor_ref"] = f"import:{consent_import.pk}"
    events = []
    for row in rows:
        c = row.change
        events.append(
            ConsentEvent(
                contact=c.contact,
                channel_kind=c.channel_kind,
                purpose=c.purpose,
                sender_scope=c.sender_scope,
                new_status=c.status,
                lawful_basis=c.lawful_basis,
                method=c.method,
                occurred_at=c.occurred_at,
                expires_at=c.expires_at,
                jurisdiction=c.jurisdiction,
                reason=c.reason,
                source_ref=f"import:{consent_import.pk}",
                **c.evidence,
                **who,
            )
        )
    for chunk in _chunks(range(len(events)), 2000):
        events_append(workspace=workspace, events=[events[i] for i in chunk], at=at)
    ConsentImport.objects.filter(pk=consent_import.pk).update(
        status=ConsentImport.Status.COMPLETED, written_count=len(events), finished_at=timezone.now()
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="consent.import.completed",
        target=consent_import,
        at=at,
        data={"events": len(events), "contacts": len({r.contact.pk for r in rows})},
    )
