"""Checking every row before anything is written: `contact_clean` per row (the form's and the
API's rules), then matching existing contacts and catching clashes, in chunks and in file order.
The result is an ImportPlan; nothing touches the contacts here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from contacts.models import AttributeDefinition, Contact, ContactImport
from contacts.validation import contact_clean

from .files import CsvRows, decode_csv, is_blank_row
from .mapping import IDENTIFIERS

MAX_ERRORS_KEPT = 1000
PROGRESS_EVERY = 1000  # rows between progress updates (one short transaction each)
CHUNK_ROWS = 2000  # rows whose existing contacts are looked up together


@dataclass
class ImportPlan:
    """What the write will do, decided before its transaction opens."""

    total_rows: int = 0
    creates: list[tuple[Contact, list[str]]] = field(default_factory=list)  # (new contact, its tags)
    updates: list[tuple[int, dict, list[str]]] = field(default_factory=list)  # (pk, changes, tags)
    errors: list[dict] = field(default_factory=list)  # the first MAX_ERRORS_KEPT
    error_count: int = 0
    invalid_rows: int = 0

    def add_errors(self, errors: list[dict]) -> None:
        errors.sort(key=lambda e: e["line"])
        self.error_count += len(errors)
        room = MAX_ERRORS_KEPT - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])


@dataclass
class _Row:
    line: int
    cells: list[str]
    clean: dict
    blank: set[str]  # mapped fields whose cell is empty: an update leaves them alone
    errors: list[dict] = field(default_factory=list)


class _Owner:
    """An existing contact's identifiers."""

    __slots__ = ("pk", "external_id", "phone", "email")

    def __init__(self, pk, external_id, phone, email):
        self.pk, self.external_id, self.phone, self.email = pk, external_id, phone, email


def _error_field(key: str) -> str:
    """contact_clean's error key -> mapping field ("attributes.x" -> "attribute:x")."""
    if key.startswith("attributes."):
        return "attribute:" + key.split(".", 1)[1]
    if key.startswith("addresses."):
        return "address_" + key.split(".", 1)[1]
    return key


class _Checker:
    def __init__(self, contact_import: ContactImport):
        self.imp = contact_import
        self.workspace = contact_import.workspace
        self.headers = contact_import.headers
        self.columns = [
            (index, header, contact_import.mapping[header])
            for index, header in enumerate(self.headers)
            if contact_import.mapping.get(header)
        ]
        self.column_of = {field_name: header for _, header, field_name in self.columns}
        self.index_of = {header: index for index, header, _ in self.columns}
        self.definitions = dict(
            AttributeDefinition.objects.filter(workspace=self.workspace).values_list("key", "type")
        )
        self.seen_external_id: dict[str, int] = {}
        self.seen_phone: dict[str, int] = {}
        self.seen_email: dict[str, int] = {}
        self.seen_target: dict[int, int] = {}

    def error(self, line: int, field_name: str | None, reason: str, cells: list[str] | None = None) -> dict:
        column = self.column_of.get(field_name, "") if field_name else ""
        if field_name == "phone" and not column:  # "give at least an identifier" when phone is unmapped
            column = " / ".join(self.column_of[f] for f in IDENTIFIERS if f in self.column_of)
        value = ""
        if column in self.index_of and cells is not None:
            value = cells[self.index_of[column]][:200]
        return {"line": line, "column": column, "value": value, "reason": reason}

    def clean_row(self, line: int, cells: list[str]) -> _Row:
        row = _Row(line=line, cells=cells, clean={}, blank=set())
        if len(cells) != len(self.headers):
            row.errors.append(
                self.error(
                    line,
                    None,
                    f"Expected {len(self.headers)} fields (as in the header), found {len(cells)}. "
                    'Check for an extra or missing separator, or quote values that contain one ("Smith, J").',
                )
            )
            return row
        data: dict = {}
        for index, _header, field_name in self.columns:
            value = cells[index]
            if not value.strip():
                row.blank.add(field_name)
            if field_name.startswith("attribute:"):
                data.setdefault("attributes", {})[field_name.split(":", 1)[1]] = value
            elif field_name.startswith("address_"):
                data.setdefault("addresses", {})[field_name.split("_", 1)[1]] = value
            else:
                data[field_name] = value
        try:
            row.clean = contact_clean(workspace=self.workspace, data=data, definitions=self.definitions)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                for message in messages:
                    row.errors.append(self.error(line, _error_field(key), message, cells))
        return row

    def resolve(self, rows: list[_Row], plan: ImportPlan) -> None:
        """Match a chunk of clean rows to existing contacts and catch clashes, in file order."""
        valid = [row for row in rows if not row.errors]
        external_ids = {r.clean["external_id"] for r in valid if r.clean.get("external_id")}
        phones = {r.clean["phone"] for r in valid if r.clean.get("phone")}
        emails = {
            r.clean["email"]
            for r in valid
            if r.clean.get("email") and not r.clean.get("external_id") and not r.clean.get("phone")
        }
        by_external_id = {o.external_id: o for o in self._owners("external_id", external_ids)}
        by_phone = {o.phone: o for o in self._owners("phone", phones)}
        by_email: dict[str, list[_Owner]] = {}
        for owner in self._owners("email", emails):
            by_email.setdefault(owner.email, []).append(owner)
        for row in valid:
            self._resolve_row(row, by_external_id, by_phone, by_email, plan)
        errors = [e for row in rows for e in row.errors]
        plan.invalid_rows += sum(1 for row in rows if row.errors)
        plan.add_errors(errors)

    def _owners(self, field_name: str, values: set[str]) -> Iterator[_Owner]:
        values = sorted(values)
        for start in range(0, len(values), 500):
            # order_by(): the default ordering makes SQLite sort, and pick the created_at index
            # over (workspace, email): ten times slower.
            for fields in (
                Contact.objects.filter(
                    workspace=self.workspace, **{f"{field_name}__in": values[start : start + 500]}
                )
                .order_by()
                .values_list("pk", "external_id", "phone", "email")
            ):
                yield _Owner(*fields)

    def _resolve_row(self, row: _Row, by_external_id, by_phone, by_email, plan: ImportPlan) -> None:
        clean, line, cells = row.clean, row.line, row.cells
        external_id, phone, email = clean.get("external_id"), clean.get("phone"), clean.get("email")
        ext_owner = by_external_id.get(external_id) if external_id else None
        phone_owner = by_phone.get(phone) if phone else None
        fail = row.errors.append
        target = None
        if ext_owner:
            target = ext_owner
        elif phone_owner:
            if external_id and phone_owner.external_id:
                fail(
                    self.error(
                        line,
                        "phone",
                        f"Contact #{phone_owner.pk} already has this phone number, with external id "
                        f"'{phone_owner.external_id}', not '{external_id}'.",
                        cells,
                    )
                )
            else:
                target = phone_owner
        elif email and not external_id and not phone:
            owners = by_email.get(email, [])
            if len(owners) > 1:
                fail(
                    self.error(
                        line,
                        "email",
                        f"{len(owners)} contacts have this email: add a phone or external id column to "
                        "say which one this row is.",
                        cells,
                    )
                )
            elif owners:
                target = owners[0]
        if target and phone_owner and phone_owner.pk != target.pk:
            fail(
                self.error(
                    line,
                    "phone",
                    f"Another contact (#{phone_owner.pk}) already has this phone number.",
                    cells,
                )
            )
        for value, seen, field_name, what in (
            (external_id, self.seen_external_id, "external_id", "external id"),
            (phone, self.seen_phone, "phone", "phone number"),
            (email if not external_id and not phone else None, self.seen_email, "email", "email"),
        ):
            if value and value in seen:
                fail(self.error(line, field_name, f"Same {what} as line {seen[value]} ({value}).", cells))
        if target and target.pk in self.seen_target and not row.errors:
            fail(
                self.error(
                    line,
                    None,
                    f"Updates the same contact (#{target.pk}) as line {self.seen_target[target.pk]}.",
                    cells,
                )
            )
        if row.errors:
            return
        if external_id:
            self.seen_external_id[external_id] = line
        if phone:
            self.seen_phone[phone] = line
        if email and not external_id and not phone:
            self.seen_email[email] = line
        tags = clean.get("tags", [])
        if target:
            self.seen_target[target.pk] = line
            plan.updates.append((target.pk, self._changes(clean, row.blank), tags))
        else:
            plan.creates.append((self._new_contact(clean), tags))

    def _changes(self, clean: dict, blank: set[str]) -> dict:
        changes = {}
        for key, value in clean.items():
            if key == "tags":
                continue
            if key == "attributes":
                kept = {k: v for k, v in value.items() if f"attribute:{k}" not in blank}
                if kept:
                    changes[key] = kept
            elif key == "addresses":
                if value:
                    changes[key] = value
            elif key not in blank:
                changes[key] = value
        return changes

    def _new_contact(self, clean: dict) -> Contact:
        contact = Contact(workspace=self.workspace)
        for key, value in clean.items():
            if key == "attributes":
                contact.attributes = {k: v for k, v in value.items() if v is not None}
            elif key != "tags":
                setattr(contact, key, value)
        return contact


def import_validate(
    *, contact_import: ContactImport, progress: Callable[[int], None] | None = None
) -> ImportPlan:
    """Check every row (nothing is written). `progress(rows_done)` is called every ~1,000 rows."""
    checker = _Checker(contact_import)
    plan = ImportPlan()
    rows = CsvRows(decode_csv(bytes(contact_import.content), contact_import.encoding))
    chunk: list[_Row] = []
    done = 0
    for index, cells in enumerate(rows):
        if index == 0 or is_blank_row(cells):
            continue
        chunk.append(checker.clean_row(rows.line, cells))
        done += 1
        if len(chunk) >= CHUNK_ROWS:
            checker.resolve(chunk, plan)
            chunk = []
        if progress and done % PROGRESS_EVERY == 0:
            progress(done)
    if chunk:
        checker.resolve(chunk, plan)
    plan.total_rows = done
    return plan
