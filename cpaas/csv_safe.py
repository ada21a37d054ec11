"""The one way the product writes CSV. A spreadsheet runs a cell that starts with `=`, `+`, `-`
or `@` (and, in some, a tab, a line break, `|`, `%` or their full-width forms) as a formula:
`=HYPERLINK(...)` or a DDE call such as `-2+3+cmd|' /C calc'!A0` in a contact's name would run on
the machine of whoever opens the export. Such cells are written with a leading `'`, which
spreadsheets show as text (OWASP "CSV injection").

Plain numbers stay as they are, so E.164 phone numbers (`+447700900123`) and amounts (`-3.5`)
keep their value and an export can be imported again: a cell of only digits, with `.`/`,`
separators and one leading sign, has no letters, so it can call no function and name no cell.
(defusedcsv was the other choice; it quotes `+447700900123` too.) `tests/cpaas/test_csv_safe.py`
fails when code writes CSV any other way."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

TRIGGERS = frozenset("=+-@\t\r\n|%＝＋－＠")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)*\Z")
BOM = "\ufeff"  # Excel then reads the file as UTF-8


def safe_cell(value) -> str | int | float:
    """The value as a spreadsheet should see it: numbers unchanged, text that would start a
    formula prefixed with `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text and text[0] in TRIGGERS and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


class SafeWriter:
    """`csv.writer` whose every cell goes through `safe_cell`; `writerow` returns what the
    file's `write` returned (the line itself with `Echo`)."""

    def __init__(self, file, **fmtparams):
        self._writer = csv.writer(file, **fmtparams)

    def writerow(self, row: Iterable):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


class Echo:
    """A file whose write returns the text, so rows can be streamed as they are made."""

    def write(self, value: str) -> str:
        return value


def writer(file, **fmtparams) -> SafeWriter:
    return SafeWriter(file, **fmtparams)


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The BOM, the header and each row as CSV text, made safe, one line at a time."""
    w = SafeWriter(Echo())
    yield BOM
    yield w.writerow(header)
    for row in rows:
        yield w.writerow(row)


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A download that streams the rows as they are read (constant memory for any number)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
