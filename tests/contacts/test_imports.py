"""CSV import: upload checks, mapping, row validation, all-or-nothing writes, the worker task
and the pages."""

import codecs
import csv
import datetime as dt
import io
import random

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from contacts import imports
from contacts.models import Contact, ContactImport, Tag
from contacts.tasks import contact_import_run
from cpaas.models import AuditEntry, RealtimeEvent
from cpaas.tenancy import Actor
from tests.conftest import client_for
from tests.factories import AttributeDefinitionFactory, ContactFactory

pytestmark = pytest.mark.django_db

GOOD = "phone,first_name,last_name\n07911 123451,Ann,Lee\n07911 123452,Bob,Ray\n07911 123453,Cy,Kim\n"
ONE_BAD = "phone,first_name,last_name\n07911 123451,Ann,Lee\n12,Bob,Ray\n07911 123453,Cy,Kim\n"


def upload(workspace, text, *, encoding="utf-8-sig", raw=None, **kwargs) -> ContactImport:
    content = raw if raw is not None else text.encode("utf-8" if encoding == "utf-8-sig" else encoding)
    return imports.import_upload(
        workspace=workspace,
        actor=Actor.system(),
        filename="contacts.csv",
        content=content,
        encoding=encoding,
        **kwargs,
    )


def run(contact_import, mapping=None) -> ContactImport:
    imports.import_start(
        contact_import=contact_import, actor=Actor.system(), mapping=mapping or contact_import.mapping
    )
    imports.import_run(import_id=contact_import.pk)
    contact_import.refresh_from_db()
    return contact_import


def file_error(workspace, text=None, **kwargs) -> str:
    with pytest.raises(ValidationError) as exc:
        upload(workspace, text, **kwargs)
    return exc.value.message_dict["file"][0]


# --- mapping ------------------------------------------------------------------------------------


def test_mapping_guess_reads_header_names_and_synonyms(workspace):
    AttributeDefinitionFactory(workspace=workspace, key="due_date", label="Payment due", type="date")
    headers = ["Mobile", "First Name", "surname", "E-Mail", "Customer ID", "MSISDN", "payment due", "Notes"]

    mapping = imports.mapping_guess(headers=headers, workspace=workspace)

    assert mapping == {
        "Mobile": "phone",
        "First Name": "first_name",
        "surname": "last_name",
        "E-Mail": "email",
        "Customer ID": "external_id",
        "payment due": "attribute:due_date",
    }  # MSISDN is a second phone column: each field is guessed once; Notes means nothing


def test_mapping_needs_an_identifier_and_each_field_once(workspace):
    headers = ["mobile", "phone", "name"]
    with pytest.raises(ValidationError) as exc:
        imports.mapping_clean(mapping={"name": "first_name"}, headers=headers, workspace=workspace)
    assert exc.value.message_dict == {
        "__all__": ["Map at least one column to Phone, Email or External id: they identify each contact."]
    }
    with pytest.raises(ValidationError) as exc:
        imports.mapping_clean(
            mapping={"mobile": "phone", "phone": "phone"}, headers=headers, workspace=workspace
        )
    assert exc.value.message_dict == {"phone": ["Phone is already imported from column 'mobile'."]}


# --- bad files ----------------------------------------------------------------------------------


def test_empty_file(workspace):
    assert file_error(workspace, "") == "The file is empty."
    assert file_error(workspace, raw=b"\r\n  \n") == "The file is empty."


def test_file_over_the_size_limit(workspace, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 1_048_576
    text = "phone\n" + "07911123456\n" * 200_000  # 2.4 MB
    assert (
        file_error(workspace, text)
        == "The file is 2.3\xa0MB; the limit is 1.0\xa0MB. Split it into smaller files."
    )


def test_binary_file_names_line_and_byte_of_the_nul(workspace):
    message = file_error(workspace, raw=b"phone,name\n07911123456,Ann\x00\x01\x02\n")
    assert message == (
        "This is not CSV text: line 2 has a NUL byte (byte 27 of the file), which only binary files "
        "contain. Export the data as CSV and upload that file."
    )


def test_ten_megabytes_of_random_junk(workspace):
    junk = random.Random(7).randbytes(10 * 1024 * 1024)
    message = file_error(workspace, raw=junk)
    assert message.startswith("This is not CSV text: line ")
    assert "has a NUL byte (byte " in message


def test_ten_megabytes_of_text_junk_on_one_line(workspace):
    message = file_error(workspace, "x" * (10 * 1024 * 1024))
    assert message == "Line 1 is not valid CSV: a field is longer than 131,072 characters."


def test_excel_workbook_instead_of_csv(workspace):
    assert file_error(workspace, raw=b"PK\x03\x04\x14\x00\x06\x00rest").startswith(
        "This is an Excel workbook or another zip file, not CSV."
    )


def test_wrong_encoding_says_where_and_suggests_the_right_one(workspace):
    content = "phone,first_name\n07911123451,Ann\n07911123452,José\n".encode("cp1252")
    message = file_error(workspace, raw=content)
    assert message == (
        "Line 3 is not valid UTF-8: byte 0xE9 at byte 49 of the file. "
        "The file reads as Windows-1252: choose that encoding."
    )


def test_utf16_file_read_as_utf8_and_the_other_way_round(workspace):
    utf16 = GOOD.encode("utf-16")
    assert file_error(workspace, raw=utf16) == (
        "The file starts with a UTF-16 byte order mark: choose UTF-16 as the encoding."
    )
    assert file_error(workspace, raw=GOOD.encode(), encoding="utf-16") == (
        "The file does not start with a UTF-16 byte order mark, so it is not UTF-16. "
        "It reads as UTF-8: choose that."
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "\nphone\n07911123456\n",
            "Line 1 is empty: the first line must name the columns, e.g. phone,first_name,last_name.",
        ),
        (
            "07911 123451,Ann\n07911 123452,Bob\n",
            "Line 1 looks like a contact ('07911 123451'), not column names: add a first line that names "
            "the columns, e.g. phone,first_name,last_name.",
        ),
        (
            "phone,name,Phone\n1,2,3\n",
            "Column name 'Phone' is used twice on line 1 (columns 1 and 3): names must be different.",
        ),
        (
            "phone,,name\n1,2,3\n",
            "Column 2 has no name on line 1: name every column, or delete the empty column.",
        ),
        ("phone,name\n", "The file has column names on line 1 but no rows of contacts below them."),
        (
            'phone,note\n07911123451,ok\n07911123452,"never closed\n07911123453,x\n',
            'Line 3 is not valid CSV: a quoted field that starts there is never closed (a " is missing).',
        ),
        (
            ",".join(f"c{i}" for i in range(150)) + "\n" + "," * 149 + "\n",
            "Line 1 has 150 columns; at most 100 are supported.",
        ),
    ],
    ids=[
        "blank-first-line",
        "no-header",
        "duplicate-header",
        "empty-header",
        "header-only",
        "open-quote",
        "too-wide",
    ],
)
def test_bad_header_and_structure(workspace, text, message):
    assert file_error(workspace, text) == message


def test_encodings_bom_and_semicolons_are_read(workspace):
    text = "phone;first_name\n07911 123451;José\n"
    for encoding, content in [
        ("utf-8-sig", codecs.BOM_UTF8 + text.encode()),
        ("utf-16", text.encode("utf-16")),
        ("cp1252", text.encode("cp1252")),
        ("latin-1", text.encode("latin-1")),
    ]:
        contact_import = upload(workspace, None, raw=content, encoding=encoding)
        assert contact_import.headers == ["phone", "first_name"]
        assert imports.import_preview(contact_import=contact_import) == [(2, ["07911 123451", "José"])]


# --- rows ---------------------------------------------------------------------------------------


def test_one_bad_row_writes_nothing_and_names_line_column_and_reason(workspace):
    contact_import = run(upload(workspace, ONE_BAD))

    assert contact_import.status == ContactImport.Status.FAILED
    assert Contact.objects.filter(workspace=workspace).count() == 0
    assert contact_import.errors == [
        {
            "line": 3,
            "column": "phone",
            "value": "12",
            "reason": "'12' is not a valid phone number (too short).",
        }
    ]
    assert contact_import.error_count == 1
    assert contact_import.failure_reason.startswith("1 problem in 1 row: nothing was imported.")
    assert not AuditEntry.objects.filter(action="contacts.import.completed").exists()


def test_line_numbers_are_physical_lines_across_quoted_newlines(workspace):
    text = (
        "phone,first_name,email\n"
        '07911123451,"Ann\nwith a two-line name",ann@example.com\n'
        "07911123452,Bob,bob@example\n"
        "07911123453,Cy,cy@example.com,extra\n"
    )
    contact_import = run(upload(workspace, text))

    assert [(e["line"], e["column"], e["value"], e["reason"]) for e in contact_import.errors] == [
        (4, "email", "bob@example", "'bob@example' is not an email address."),
        (
            5,
            "",
            "",
            "Expected 3 fields (as in the header), found 4. Check for an extra or missing separator, "
            'or quote values that contain one ("Smith, J").',
        ),
    ]


def test_import_creates_contacts_with_tags_and_an_audit_entry(workspace, marketer):
    AttributeDefinitionFactory(workspace=workspace, key="due_date", type="date")
    text = 'Mobile,Name,Tags,due_date,WhatsApp\n07911 123451,Ann,"vip, gold",2026-03-01,wa-1\n07911 123452,Bob,,,\n'
    contact_import = imports.import_upload(
        workspace=workspace,
        actor=Actor.for_user(marketer),
        filename="spring.csv",
        content=text.encode(),
        tag_names="spring, newsletter",
    )
    contact_import = run(
        contact_import,
        {
            "Mobile": "phone",
            "Name": "first_name",
            "Tags": "tags",
            "due_date": "attribute:due_date",
            "WhatsApp": "address_whatsapp",
        },
    )

    assert contact_import.status == ContactImport.Status.COMPLETED
    assert (contact_import.created_count, contact_import.updated_count) == (2, 0)
    ann = Contact.objects.get(workspace=workspace, phone="+447911123451")
    assert ann.first_name == "Ann"
    assert ann.attributes == {"due_date": "2026-03-01"}
    assert ann.addresses == {"whatsapp": "wa-1"}
    assert sorted(ann.tags.values_list("name", flat=True)) == ["gold", "newsletter", "spring", "vip"]
    bob = Contact.objects.get(workspace=workspace, phone="+447911123452")
    assert sorted(bob.tags.values_list("name", flat=True)) == ["newsletter", "spring"]
    assert bob.attributes == {}
    entry = AuditEntry.objects.get(action="contacts.import.completed")
    assert entry.actor_user == marketer
    assert entry.data == {"filename": "spring.csv", "created": 2, "updated": 0, "skipped": 0, "errors": 0}


def test_skip_mode_writes_the_good_rows_and_lists_the_skipped_ones(workspace):
    contact_import = run(upload(workspace, ONE_BAD, skip_invalid_rows=True))

    assert contact_import.status == ContactImport.Status.COMPLETED
    assert sorted(Contact.objects.filter(workspace=workspace).values_list("first_name", flat=True)) == [
        "Ann",
        "Cy",
    ]
    assert (contact_import.created_count, contact_import.skipped_count, contact_import.error_count) == (
        2,
        1,
        1,
    )
    assert contact_import.errors[0]["line"] == 3


def test_existing_contacts_matched_by_external_id_change_only_mapped_non_empty_cells(workspace):
    AttributeDefinitionFactory(workspace=workspace, key="plan", type="text")
    AttributeDefinitionFactory(workspace=workspace, key="score", type="number")
    old = ContactFactory(
        workspace=workspace,
        external_id="C-1",
        first_name="Ann",
        last_name="Lee",
        phone="+447911123451",
        email="ann@example.com",
        attributes={"plan": "basic", "score": 3},
    )
    old.tags.add(Tag.objects.create(workspace=workspace, name="old"))
    text = "external_id,first_name,email,plan,tags\nC-1,Annie,,gold,new\nC-2,Bob,bob@example.com,,\n"

    contact_import = run(
        upload(workspace, text, tag_names="batch"),
        {
            "external_id": "external_id",
            "first_name": "first_name",
            "email": "email",
            "plan": "attribute:plan",
            "tags": "tags",
        },
    )

    assert (contact_import.created_count, contact_import.updated_count) == (1, 1)
    old.refresh_from_db()
    assert old.first_name == "Annie"
    assert old.last_name == "Lee"  # not mapped
    assert old.email == "ann@example.com"  # empty cell: unchanged
    assert old.phone == "+447911123451"
    assert old.attributes == {"plan": "gold", "score": 3}
    assert sorted(old.tags.values_list("name", flat=True)) == ["batch", "new", "old"]
    assert Contact.objects.get(workspace=workspace, external_id="C-2").first_name == "Bob"


def test_contact_without_external_id_is_found_by_phone_and_given_one(workspace):
    old = ContactFactory(workspace=workspace, external_id=None, phone="+447911123451", first_name="Ann")
    contact_import = run(upload(workspace, "external_id,phone,first_name\nC-9,07911 123451,Annie\n"))

    assert (contact_import.created_count, contact_import.updated_count) == (0, 1)
    old.refresh_from_db()
    assert (old.external_id, old.first_name) == ("C-9", "Annie")


def test_phone_of_a_contact_with_another_external_id_is_an_error(workspace):
    other = ContactFactory(workspace=workspace, external_id="C-1", phone="+447911123451")
    contact_import = run(upload(workspace, "external_id,phone\nC-2,07911 123451\n"))

    assert contact_import.status == ContactImport.Status.FAILED
    assert contact_import.errors == [
        {
            "line": 2,
            "column": "phone",
            "value": "07911 123451",
            "reason": f"Contact #{other.pk} already has this phone number, with external id 'C-1', not 'C-2'.",
        }
    ]


def test_duplicates_within_the_file(workspace):
    text = (
        "external_id,phone\n"
        "A,07911 123451\n"
        "B,+44 7911 123451\n"  # same number, other format
        "A,07911 123452\n"
    )
    contact_import = run(upload(workspace, text))

    assert [(e["line"], e["column"], e["reason"]) for e in contact_import.errors] == [
        (3, "phone", "Same phone number as line 2 (+447911123451)."),
        (4, "external_id", "Same external id as line 2 (A)."),
    ]
    assert Contact.objects.count() == 0


def test_email_matches_only_when_it_is_unambiguous(workspace):
    ContactFactory(workspace=workspace, email="twin@example.com", phone="+447911123451")
    ContactFactory(workspace=workspace, email="twin@example.com", phone="+447911123452")
    contact_import = run(upload(workspace, "email,first_name\ntwin@example.com,Tw\n"))

    assert contact_import.errors[0]["column"] == "email"
    assert contact_import.errors[0]["reason"].startswith("2 contacts have this email")


def test_rows_are_checked_with_the_same_rules_as_the_form(workspace):
    text = (
        "phone,language,timezone,preferred_channel,is_vulnerable\n"
        "07911123451,english!,Mars/Base,pigeon,maybe\n"
    )
    contact_import = run(upload(workspace, text))

    assert [(e["column"], e["reason"]) for e in contact_import.errors] == [
        ("language", "'english!' is not a language code (use ISO 639-1 such as en, fr, pt-br)."),
        ("timezone", "'Mars/Base' is not an IANA time zone (for example Europe/London)."),
        (
            "preferred_channel",
            "'pigeon' is not a channel kind (sms, whatsapp, rcs, voice, email, viber, messenger, push).",
        ),
        ("is_vulnerable", "'maybe' is not yes/no (use true/false, yes/no or 1/0)."),
    ]


def test_the_task_run_twice_is_a_no_op_the_second_time(workspace):
    contact_import = upload(workspace, GOOD)
    imports.import_start(contact_import=contact_import, actor=Actor.system(), mapping=contact_import.mapping)

    assert contact_import_run(contact_import.pk) == "completed"
    assert contact_import_run(contact_import.pk) == "not queued"

    assert Contact.objects.filter(workspace=workspace).count() == 3
    assert AuditEntry.objects.filter(action="contacts.import.completed").count() == 1
    contact_import.refresh_from_db()
    assert contact_import.created_count == 3


def test_a_crash_during_the_write_leaves_nothing(workspace, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports.writing, "audit_record", explode)  # after the contacts and tags are inserted
    contact_import = run(upload(workspace, GOOD, tag_names="spring"))

    assert contact_import.status == ContactImport.Status.FAILED
    assert contact_import.failure_reason == (
        "The import stopped on an unexpected error (RuntimeError: disk on fire). Nothing was imported."
    )
    assert Contact.objects.count() == 0
    assert Tag.objects.count() == 0
    assert RealtimeEvent.objects.count() == 0


def test_a_contact_taken_between_check_and_write_fails_the_import_cleanly(workspace, monkeypatch):
    real_validate = imports.rows.import_validate

    def validate_then_race(**kwargs):
        plan = real_validate(**kwargs)
        ContactFactory(workspace=workspace, phone="+447911123452")  # someone else, meanwhile
        return plan

    monkeypatch.setattr(imports.rows, "import_validate", validate_then_race)
    contact_import = run(upload(workspace, GOOD))

    assert contact_import.status == ContactImport.Status.FAILED
    assert contact_import.failure_reason.startswith("Contacts changed while the import ran")
    assert Contact.objects.filter(workspace=workspace).count() == 1  # only the other writer's


def test_progress_is_reported_while_checking(workspace, monkeypatch):
    monkeypatch.setattr(imports.rows, "PROGRESS_EVERY", 2)
    text = "phone\n" + "".join(f"0791112345{i}\n" for i in range(5))
    seen = []
    imports.import_validate(contact_import=upload(workspace, text), progress=seen.append)
    assert seen == [2, 4]


def test_small_import_shows_rows_live_and_every_import_a_banner(workspace, settings):
    settings.REALTIME_MODE = "relay"  # what is published is read from the relay's rows (also in Redis mode)
    run(upload(workspace, GOOD))

    payloads = [e.payload for e in RealtimeEvent.objects.order_by("id")]
    assert [p["type"] for p in payloads] == ["contact.created"] * 3 + ["contacts.imported"]
    assert "07911" not in payloads[0]["html"] and "+4479111234" in payloads[0]["html"]
    assert "3 contacts imported" in payloads[-1]["html"]
    assert all(e.group == f"ws.{workspace.pk}.contacts" for e in RealtimeEvent.objects.all())


def test_ten_thousand_rows(workspace, settings):
    settings.REALTIME_MODE = "relay"  # what is published is read from the relay's rows (also in Redis mode)
    rows = "".join(f"+4479{i:08d},First{i},Last{i},p{i}@example.com\n" for i in range(10_000))
    contact_import = run(upload(workspace, "phone,first_name,last_name,email\n" + rows, tag_names="bulk"))

    assert contact_import.status == ContactImport.Status.COMPLETED, contact_import.errors[:3]
    assert contact_import.created_count == 10_000
    assert Contact.objects.filter(workspace=workspace, tags__name="bulk").count() == 10_000
    assert [e.payload["type"] for e in RealtimeEvent.objects.all()] == ["contacts.imported"]


# --- pages --------------------------------------------------------------------------------------


def test_upload_map_and_run_through_the_pages(marketer_client, workspace, django_capture_on_commit_callbacks):
    # given an upload
    response = marketer_client.post(
        reverse("import_create"),
        {"file": SimpleUploadedFile("people.csv", ONE_BAD.encode()), "encoding": "utf-8-sig", "tags": "web"},
    )
    contact_import = ContactImport.objects.get(workspace=workspace)
    assert response.status_code == 302 and response.url == reverse("import_mapping", args=[contact_import.pk])
    # the mapping page shows the first rows and the guessed fields
    page = marketer_client.get(response.url).content.decode()
    assert "12" in page and "07911 123451" in page
    assert '<option value="phone" selected>' in page
    # mapping two columns to the same field is refused next to the second select
    response = marketer_client.post(
        reverse("import_mapping", args=[contact_import.pk]),
        {"col_0": "phone", "col_1": "phone", "col_2": "last_name"},
    )
    assert response.status_code == 400
    assert "Phone is already imported from column &#x27;phone&#x27;." in response.content.decode()
    # when the mapping is confirmed, the task runs (inline in tests) after commit
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("import_mapping", args=[contact_import.pk]),
            {"col_0": "phone", "col_1": "first_name", "col_2": "last_name"},
        )
    assert response.url == reverse("import_detail", args=[contact_import.pk])
    # then the detail page lists the bad row, and stops polling
    page = marketer_client.get(response.url).content.decode()
    assert "Rows to fix" in page and "&#x27;12&#x27; is not a valid phone number (too short)." in page
    assert 'hx-trigger="every 1s"' not in page
    # and the valid rows can be imported in one click
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(reverse("import_retry", args=[contact_import.pk]))
    again = ContactImport.objects.exclude(pk=contact_import.pk).get()
    assert again.status == ContactImport.Status.COMPLETED and again.created_count == 2
    assert response.url == reverse("import_detail", args=[again.pk])


def test_an_import_whose_worker_died_is_shown_as_failed(marketer_client, workspace):
    contact_import = upload(workspace, GOOD)
    long_ago = timezone.now() - dt.timedelta(hours=2)
    ContactImport.objects.filter(pk=contact_import.pk).update(
        status=ContactImport.Status.VALIDATING, started_at=long_ago
    )

    page = marketer_client.get(reverse("import_detail", args=[contact_import.pk])).content.decode()

    assert "The worker stopped before the import finished. Nothing was imported" in page
    assert 'hx-trigger="every 1s"' not in page
    contact_import.refresh_from_db()
    assert contact_import.status == ContactImport.Status.FAILED
    assert imports.import_run(import_id=contact_import.pk) == "not queued"


def test_progress_partial_polls_while_running(marketer_client, workspace):
    contact_import = upload(workspace, GOOD)
    imports.import_start(contact_import=contact_import, actor=Actor.system(), mapping=contact_import.mapping)
    url = reverse("import_detail", args=[contact_import.pk])

    response = marketer_client.get(url, headers={"HX-Request": "true", "HX-Target": "import-progress"})

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="import-progress"')
    assert 'hx-trigger="every 1s"' in body and "<html" not in body


def test_upload_errors_show_next_to_the_file_field(marketer_client, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 10
    response = marketer_client.post(
        reverse("import_create"),
        {"file": SimpleUploadedFile("big.csv", b"phone\n07911123451\n"), "encoding": "utf-8-sig"},
    )
    assert response.status_code == 400
    assert "The file is 18\xa0bytes; the limit is 10\xa0bytes." in response.content.decode()
    assert not ContactImport.objects.exists()


def test_ten_megabytes_of_junk_through_the_page(marketer_client):
    junk = random.Random(3).randbytes(10 * 1024 * 1024)
    response = marketer_client.post(
        reverse("import_create"), {"file": SimpleUploadedFile("junk.csv", junk), "encoding": "utf-8-sig"}
    )
    assert response.status_code == 400
    assert "This is not CSV text: line " in response.content.decode()
    assert not ContactImport.objects.exists()


def test_errors_download(marketer_client, workspace):
    contact_import = run(upload(workspace, "phone,first_name\n=1+2,Ann\n"))
    response = marketer_client.get(reverse("import_errors_csv", args=[contact_import.pk]))
    body = response.content.decode("utf-8-sig")
    assert body.splitlines()[0] == "line,column,value,reason"
    assert body.splitlines()[1].startswith("2,phone,'=1+2,")


def test_import_list(marketer_client, workspace):
    run(upload(workspace, GOOD))
    page = marketer_client.get(reverse("import_list")).content.decode()
    assert "contacts.csv" in page and "Completed" in page


def test_another_workspace_gets_404(other_client, workspace):
    contact_import = upload(workspace, GOOD)
    for name in ("import_detail", "import_mapping", "import_errors_csv"):
        assert other_client.get(reverse(name, args=[contact_import.pk])).status_code == 404, name
    assert other_client.post(reverse("import_retry", args=[contact_import.pk])).status_code == 404
    assert (
        other_client.post(reverse("import_mapping", args=[contact_import.pk]), {"col_0": "phone"}).status_code
        == 404
    )


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_viewer_and_agent_may_not_import(request, role):
    client = client_for(request.getfixturevalue(role))
    assert client.get(reverse("import_create")).status_code == 403
    response = client.post(reverse("import_create"), {"file": SimpleUploadedFile("a.csv", GOOD.encode())})
    assert response.status_code == 403
    assert client.get(reverse("import_list")).status_code == 403
    assert not ContactImport.objects.exists()


def test_errors_download_writes_a_dde_payload_as_text(marketer_client, workspace):
    contact_import = run(upload(workspace, "phone,first_name\n\"-2+3+cmd|' /C calc'!A0\",Ann\n"))
    response = marketer_client.get(reverse("import_errors_csv", args=[contact_import.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][:3] == ["2", "phone", "'-2+3+cmd|' /C calc'!A0"]
