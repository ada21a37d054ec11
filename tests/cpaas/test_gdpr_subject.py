"""How erasure recognises a person in free text and in stored uploads: a phone number in any
written form, an email in any case, names only inside rows that are theirs; a CSV upload loses
exactly their records, whatever its encoding, delimiter or quoting, and keeps every line number."""

import codecs
import datetime as dt

import pytest

from contacts.imports import csv_blank_records
from contacts.imports.files import CsvRows, decode_csv
from cpaas.gdpr import Subject
from cpaas.tenancy import Actor
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def subject(workspace):
    contact = ContactFactory(workspace=workspace, phone="+447912654321", email="zeb@example.org")
    return Subject(
        contact=contact,
        actor=Actor.system("test"),
        at=dt.datetime(2026, 5, 4, tzinfo=dt.UTC),
        strong=[contact.phone, contact.email, "psid-5521", "42"],
        names=["Zebediah", "Quillfeather", "Zebediah Quillfeather"],
    )


@pytest.mark.parametrize(
    "text",
    ["call +447912654321", "call +44 7912 654321", "0044 (0)7912 654321", "447912654321",
     "07912 654321", "07912-654-321", "(07912) 654321", "7912654321", "mail ZEB@Example.ORG",
     "messenger psid-5521"],
)  # fmt: skip
def test_a_strong_identifier_is_found_in_any_written_form(subject, text):
    assert subject.mentions(text)
    assert "[erased]" in subject.scrub(text)
    assert not subject.mentions(subject.scrub(text))


@pytest.mark.parametrize(
    "text",
    ["+447912654322", "147912654321", "79126543210", "bzeb@example.org", "zeb@example.org.uk",
     "order 42 shipped", "Zebediah wrote"],
)  # fmt: skip
def test_other_values_are_not_the_person(subject, text):
    assert not subject.mentions(text)


def test_names_are_scrubbed_but_do_not_tie_a_row_to_the_person(subject):
    assert not subject.mentions("Zebediah wrote") and subject.mentions("Zebediah wrote", names=True)
    assert subject.scrub({"note": "zebediah QUILLFEATHER said hi", "n": 447912654321}) == {
        "note": "[erased] [erased] said hi",
        "n": "[erased]",
    }
    assert subject.scrub("Zebediahs") == "Zebediahs"  # a whole word only


def test_a_whole_cell_must_be_the_identifier(subject):
    assert subject.is_identifier(" 07912 654321 ") and subject.is_identifier("ZEB@example.org")
    assert not subject.is_identifier("42")  # a short id is matched by its own column only
    assert not subject.is_identifier("07912 654321 and more")


def _theirs(subject):
    return lambda cells: any(subject.is_identifier(c) or subject.mentions(c) for c in cells)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_an_upload_loses_their_records_and_keeps_line_numbers(subject, encoding):
    text = (
        "phone;name;note\r\n"
        '07911 000777;Olive;"two\r\nlines"\r\n'
        '07912 654321;Zébédiah;"a note\r\nover two lines"\r\n'
        "\r\n"
        "07911 000778;Pat;zeb@example.org\r\n"
        "07911 000779;Ren;ok\r\n"
    )
    content = text.encode(encoding)
    if encoding == "utf-8-sig":
        content = codecs.BOM_UTF8 + text.encode("utf-8")
    scrubbed, lines = csv_blank_records(content, encoding, _theirs(subject))
    assert lines == [4, 7]
    rows = CsvRows(decode_csv(scrubbed, encoding))
    kept = [(rows.line, cells) for cells in rows if any(cells)]
    assert kept == [
        (1, ["phone", "name", "note"]),
        (2, ["07911 000777", "Olive", "two\r\nlines"]),
        (8, ["07911 000779", "Ren", "ok"]),
    ]
    assert scrubbed.startswith(codecs.BOM_UTF8) == (encoding == "utf-8-sig")


def test_a_file_that_no_longer_parses_is_scrubbed_line_by_line(subject):
    content = b'phone,note\n07911 000777,"never closed\n07912 654321,x\n'
    scrubbed, lines = csv_blank_records(content, "utf-8", _theirs(subject))
    assert scrubbed == b'phone,note\n07911 000777,"never closed\n\n' and lines == [3]
