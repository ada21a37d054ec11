"""The one CSV writer: cells a spreadsheet would run as a formula are written as text, numbers
and phone numbers keep their value, and no code writes CSV any other way."""

import csv
import io
import os
import re
from pathlib import Path

import pytest

from cpaas import csv_safe

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value, written",
    [("=1+2", "'=1+2"),
     ("+1+2", "'+1+2"),
     ("-1+2", "'-1+2"),
     ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
     ('@SUM(1+1)*cmd|" /C calc"!A0', '\'@SUM(1+1)*cmd|" /C calc"!A0'),
     ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
     ("\t=1+2", "'\t=1+2"),
     ("\r=1+2", "'\r=1+2"),
     ("\n=1+2", "'\n=1+2"),
     ("|calc", "'|calc"),
     ("%0A=1", "'%0A=1"),
     ("＝1+2", "'＝1+2"),  # full-width equals sign, a formula in CJK spreadsheets
     ("+447700900123", "+447700900123"),  # an E.164 phone number stays importable
     ("-3.5", "-3.5"),
     ("1,000.50", "1,000.50"),
     ("Ann = Bob", "Ann = Bob"),
     ("", ""),
     (None, ""),
     (True, "true"),
     (-7, -7)],
)  # fmt: skip
def test_safe_cell(value, written):
    assert csv_safe.safe_cell(value) == written


def test_csv_lines_make_every_cell_safe_header_included():
    text = "".join(csv_safe.csv_lines(["=h", "ok"], [["=1+2", "+447700900123"], [1, None]]))
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text.lstrip("\ufeff")))) == [
        ["'=h", "ok"],
        ["'=1+2", "+447700900123"],
        ["1", ""],
    ]


def test_a_file_writer_is_safe_too():
    out = io.StringIO()
    csv_safe.writer(out).writerows([["@x", "y"]])
    assert out.getvalue() == "'@x,y\r\n"


# Anything that builds CSV text must go through cpaas.csv_safe; the readers (imports) are fine.
WRITING = re.compile(r"\b(csv\.writer|csv\.DictWriter|DictWriter|from csv import[^\n]*\bwriter)\b")


def _sources():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("node_modules", "static")]
        yield from (Path(folder) / f for f in files if f.endswith(".py"))


def test_no_code_writes_csv_around_the_shared_writer():
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("tests/") or rel == "cpaas/csv_safe.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if WRITING.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == [], "write CSV with cpaas.csv_safe (formula injection):\n" + "\n".join(offenders)
