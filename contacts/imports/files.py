"""Reading an upload: the encoding, the CSV structure and the header, each problem named with
its line (and byte, for encodings); then keeping the file in the database for the worker."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from contacts.models import ContactImport
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from .mapping import mapping_guess

ENCODINGS = [
    ("utf-8-sig", "UTF-8 (with or without BOM)"),
    ("utf-16", "UTF-16 (with BOM)"),
    ("cp1252", "Windows-1252 (older Excel on Windows)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
]
ENCODING_LABELS = dict(ENCODINGS)
PREVIEW_ROWS = 10
MAX_COLUMNS = 100


def _file_error(message: str) -> ValidationError:
    return ValidationError({"file": [message]})


def _too_big_message(size: int) -> str:
    limit = settings.CONTACT_IMPORT_MAX_BYTES
    return (
        f"The file is {filesizeformat(size)}; the limit is {filesizeformat(limit)}. "
        "Split it into smaller files."
    )


def import_check_size(size: int) -> None:
    """Reject an upload by its announced size before reading it."""
    if size > settings.CONTACT_IMPORT_MAX_BYTES:
        raise _file_error(_too_big_message(size))


def _line_at(content: bytes, position: int, encoding: str) -> int:
    return content[:position].decode(encoding, errors="replace").count("\n") + 1


def _suggest_encoding(content: bytes, tried: str) -> str | None:
    for encoding in ("utf-8-sig", "cp1252"):
        if encoding == tried:
            continue
        try:
            content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1" if tried != "latin-1" else None


def decode_csv(content: bytes, encoding: str) -> str:
    """The file as text, or a ValidationError on "file" that says what is wrong and where."""
    if encoding == "utf-8":  # ContactImport's default: read as UTF-8 that may start with a BOM
        encoding = "utf-8-sig"
    if encoding not in ENCODING_LABELS:
        raise ValidationError({"encoding": [f"Unknown encoding '{encoding}'."]})
    if not content.strip():
        raise _file_error("The file is empty.")
    import_check_size(len(content))
    label = ENCODING_LABELS[encoding].split(" (")[0]
    utf16_bom = content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if encoding == "utf-16" and not utf16_bom:
        suggestion = _suggest_encoding(content, encoding)
        raise _file_error(
            "The file does not start with a UTF-16 byte order mark, so it is not UTF-16."
            + (
                f" It reads as {ENCODING_LABELS[suggestion].split(' (')[0]}: choose that."
                if suggestion
                else ""
            )
        )
    if encoding != "utf-16":
        if content.startswith(b"PK\x03\x04"):
            raise _file_error(
                "This is an Excel workbook or another zip file, not CSV. "
                "In Excel use File → Save as → CSV UTF-8, and upload that file."
            )
        if utf16_bom:
            raise _file_error("The file starts with a UTF-16 byte order mark: choose UTF-16 as the encoding.")
        if encoding != "utf-8-sig" and content.startswith(codecs.BOM_UTF8):
            raise _file_error("The file starts with a UTF-8 byte order mark: choose UTF-8 as the encoding.")
        nul = content.find(b"\x00")
        if nul >= 0:
            raise _file_error(
                f"This is not CSV text: line {_line_at(content, nul, 'latin-1')} has a NUL byte "
                f"(byte {nul + 1:,} of the file), which only binary files contain. "
                "Export the data as CSV and upload that file."
            )
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        bad = content[exc.start : exc.start + 1].hex().upper()
        suggestion = _suggest_encoding(content, encoding)
        raise _file_error(
            f"Line {_line_at(content, exc.start, encoding)} is not valid {label}: byte 0x{bad} "
            f"at byte {exc.start + 1:,} of the file."
            + (
                f" The file reads as {ENCODING_LABELS[suggestion].split(' (')[0]}: choose that encoding."
                if suggestion
                else ""
            )
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise _file_error(
            f"This is not CSV text: line {text.count(chr(10), 0, nul) + 1} has a NUL character, "
            "which only binary files contain."
        )
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise _file_error("The file is empty.")
    return text


def _delimiter(text: str) -> str:
    """Comma unless the header line plainly uses semicolons (European Excel) or tabs."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


class CsvRows:
    """csv.reader over the text that knows the physical line each record starts on."""

    def __init__(self, text: str):
        self.delimiter = _delimiter(text)
        self.reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True)
        self.line = 0  # first line of the last record read

    def __iter__(self) -> Iterator[list[str]]:
        end = 0
        while True:
            try:
                row = next(self.reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _file_error(self._explain(exc, end + 1)) from None
            self.line, end = end + 1, self.reader.line_num
            yield row

    def _explain(self, exc: csv.Error, line: int) -> str:
        text = str(exc)
        if "unexpected end of data" in text:
            return f'Line {line} is not valid CSV: a quoted field that starts there is never closed (a " is missing).'
        if "field larger than field limit" in text:
            return (
                f"Line {line} is not valid CSV: a field is longer than {csv.field_size_limit():,} characters."
            )
        if "expected after" in text:
            return (
                f"Line {line} is not valid CSV: a closing quote must be followed by "
                f"'{self.delimiter}' or the end of the line."
            )
        return f"Line {line} is not valid CSV ({text})."


def is_blank_row(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]{7,}")


def _looks_like_data(name: str) -> bool:
    if "@" in name and "." in name.split("@")[-1]:
        return True
    return bool(_PHONE_LIKE.fullmatch(name)) and sum(ch.isdigit() for ch in name) >= 7


def read_header(text: str) -> tuple[list[str], int]:
    """The column names and how many non-blank rows follow them; ValidationError otherwise."""
    rows = CsvRows(text)
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None or is_blank_row(header):
        raise _file_error(
            "Line 1 is empty: the first line must name the columns, e.g. phone,first_name,last_name."
        )
    names = [name.strip() for name in header]
    if len(names) > MAX_COLUMNS:
        raise _file_error(f"Line 1 has {len(names):,} columns; at most {MAX_COLUMNS} are supported.")
    for index, name in enumerate(names, start=1):
        if not name:
            raise _file_error(
                f"Column {index} has no name on line 1: name every column, or delete the empty column."
            )
    seen: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        if name.lower() in seen:
            raise _file_error(
                f"Column name '{name}' is used twice on line 1 (columns {seen[name.lower()]} and {index}): "
                "names must be different."
            )
        seen[name.lower()] = index
    data_like = next((name for name in names if _looks_like_data(name)), None)
    if data_like:
        raise _file_error(
            f"Line 1 looks like a contact ('{data_like[:60]}'), not column names: add a first line "
            "that names the columns, e.g. phone,first_name,last_name."
        )
    total = sum(1 for row in iterator if not is_blank_row(row))
    if not total:
        raise _file_error("The file has column names on line 1 but no rows of contacts below them.")
    return names, total


def _tags_clean(tag_names: list[str] | str) -> list[str]:
    if isinstance(tag_names, str):
        tag_names = tag_names.split(",")
    names = sorted({name.strip() for name in tag_names if name and name.strip()})
    too_long = [name for name in names if len(name) > 60]
    if too_long:
        raise ValidationError({"tags": [f"A tag has at most 60 characters ('{too_long[0][:60]}…')."]})
    return names


@transaction.atomic
def import_upload(
    *,
    workspace: Workspace,
    actor: Actor,
    filename: str,
    content: bytes,
    encoding: str = "utf-8-sig",
    skip_invalid_rows: bool = False,
    tag_names: list[str] | str = (),
) -> ContactImport:
    """Check the file (encoding, CSV structure, header) and keep it, waiting for its mapping."""
    text = decode_csv(content, encoding)
    headers, total = read_header(text)
    return ContactImport.objects.create(
        workspace=workspace,
        created_by=actor.user if actor.kind == "user" else None,
        filename=(filename or "upload.csv")[:255],
        content=content,
        encoding=encoding,
        headers=headers,
        mapping=mapping_guess(headers=headers, workspace=workspace),
        skip_invalid_rows=skip_invalid_rows,
        tag_names=_tags_clean(tag_names),
        total_rows=total,
    )


def import_preview(
    *, contact_import: ContactImport, limit: int = PREVIEW_ROWS
) -> list[tuple[int, list[str]]]:
    """The first `limit` rows as (line, cells)."""
    rows = CsvRows(decode_csv(bytes(contact_import.content), contact_import.encoding))
    preview = []
    for index, row in enumerate(rows):
        if index == 0 or is_blank_row(row):
            continue
        preview.append((rows.line, row))
        if len(preview) >= limit:
            break
    return preview


def csv_blank_records(
    content: bytes, encoding: str, is_theirs: Callable[[list[str]], bool]
) -> tuple[bytes, list[int]]:
    """The file with every record (after the header) that `is_theirs` picks turned into empty
    lines, and the lines where those records started. Used by GDPR erasure: one person's lines
    leave a stored upload that holds many people's. Empty lines are skipped by every reader, and
    every other line keeps its number, so row errors still point at the right lines. A file that
    no longer parses as CSV is scrubbed line by line instead."""
    codec = "utf-8" if encoding in ("utf-8", "utf-8-sig") else encoding  # a BOM stays a character
    text = bytes(content).decode(codec, errors="replace")
    lines = io.StringIO(text, newline="").readlines()
    theirs: list[tuple[int, int]] = []  # (first, last) physical line, 1-based
    try:
        rows = CsvRows(text)
        for index, cells in enumerate(rows):
            if index and is_theirs(cells):
                theirs.append((rows.line, rows.reader.line_num))
    except ValidationError:
        theirs = [(n, n) for n, line in enumerate(lines, start=1) if n > 1 and is_theirs([line])]
    for first, last in theirs:
        for n in range(first, last + 1):
            line = lines[n - 1]
            lines[n - 1] = line[len(line.rstrip("\r\n")) :]  # keep only the line ending
    return "".join(lines).encode(codec), [first for first, _ in theirs]
