"""CSV import of opt-ins and opt-outs: preview, row-level errors with nothing half-written, the
worker task, and the pages around it."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from consent.models import ConsentEvent, ConsentImport, ConsentRecord
from consent.services import check
from consent.services.imports import consent_import_run, consent_import_start, consent_import_upload
from cpaas.models import AuditEntry
from tests.consent.conftest import NOON
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "phone,email,channel,purpose,status,occurred_at,method,notice_text,notice_version,url,ip_address,reason\n"
)


@pytest.fixture
def people(workspace):
    return [
        ContactFactory(workspace=workspace, phone="+447911000001", email="a@example.com"),
        ContactFactory(workspace=workspace, phone="+447911000002", email="b@example.com"),
        ContactFactory(workspace=workspace, phone="+447911000003", email="shared@example.com"),
        ContactFactory(workspace=workspace, phone="+447911000004", email="shared@example.com"),
    ]


GOOD = HEADER + (
    "07911 000001,,sms,marketing,opted_in,2025-11-02T10:00:00Z,web_form,Texts about offers,v3,"
    "https://shop.test/join,203.0.113.7,\n"
    ",b@example.com,email,marketing,opt-in,2025-11-03,,,v3,,,\n"
    "+447911000001,,email,surveys,opted_out,2026-01-05T09:00:00+01:00,written,,,,,Letter of 5 Jan\n"
)


@pytest.fixture
def start(actor, django_capture_on_commit_callbacks):
    """Start an import and run its worker task (tests run tasks inline, after commit)."""

    def _start(ci):
        with django_capture_on_commit_callbacks(execute=True):
            consent_import_start(consent_import=ci, actor=actor)
        ci.refresh_from_db()
        return ci

    return _start


def _upload(workspace, actor, text, name="consent.csv"):
    return consent_import_upload(workspace=workspace, actor=actor, filename=name, content=text.encode())


def test_a_good_file_is_written_whole_with_its_evidence(workspace, actor, people, start):
    ci = _upload(workspace, actor, GOOD)
    assert ci.total_rows == 3
    start(ci)
    assert (ci.status, ci.written_count, ci.error_count) == ("completed", 3, 0)
    event = ConsentEvent.objects.get(contact=people[0], channel_kind="sms")
    assert (event.method, event.actor_type, event.notice_version, event.ip_address) == (
        "web_form", "import", "v3", "203.0.113.7",
    )  # fmt: skip
    assert (
        event.actor_label == f"import #{ci.pk} (consent.csv) by alice-admin"
        and event.source_ref == f"import:{ci.pk}"
    )
    second = ConsentEvent.objects.get(contact=people[1])
    assert second.method == "import" and second.reason == "Imported from consent.csv, line 3"
    assert second.occurred_at.isoformat() == "2025-11-03T00:00:00+00:00"  # a date: midnight, workspace time
    assert check(people[0], "sms", "marketing", NOON).outcome == "allow"
    assert check(people[0], "email", "surveys", NOON).rule == "consent.opted_out"
    assert AuditEntry.objects.filter(action="consent.import.completed").exists()


def test_a_bad_row_stops_the_whole_import_with_clear_errors(workspace, actor, people, start):
    text = GOOD + (
        "+447911000009,,sms,marketing,opted_out,,,,,,,gone\n"  # line 5: unknown contact
        ",shared@example.com,sms,marketing,opted_out,,,,,,,\n"  # line 6: two contacts share the email
        "+447911000002,,fax,lottery,maybe,yesterday,,,,,,\n"  # line 7: four problems
        "+447911000002,,sms,marketing,opted_in,,web_form,,,,,\n"  # line 8: opt-in without evidence
    )
    ci = _upload(workspace, actor, text)
    start(ci)
    assert ci.status == "failed" and "nothing was imported" in ci.failure_reason
    assert not ConsentEvent.objects.exists() and not ConsentRecord.objects.exists()  # nothing half-written
    errors = {(e["line"], e["column"]): e["reason"] for e in ci.errors}
    assert errors[(5, "phone")] == "No contact has this phone number."
    assert "2 contacts share this email" in errors[(6, "email")]
    assert errors[(7, "status")] == "Use opted_in, pending or opted_out."
    assert "not a date or time" in errors[(7, "occurred_at")]
    assert "needs evidence" in errors[(8, "notice_text")]
    assert {line for line, _ in errors} == {5, 6, 7, 8}


def test_channel_and_purpose_errors_name_their_columns(workspace, actor, people, start):
    ci = _upload(workspace, actor, HEADER + "+447911000002,,fax,lottery,opted_out,,,,,,,\n")
    start(ci)
    columns = {e["column"]: e["reason"] for e in ci.errors}
    assert "Unknown channel 'fax'" in columns["channel"] and "Unknown purpose 'lottery'" in columns["purpose"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "phone,channel,purpose,status,colour\n+447911000001,sms,marketing,opted_in,red\n",
            "Unknown column(s): colour",
        ),
        ("phone,channel,purpose\n+447911000001,sms,marketing\n", "Missing column(s): status"),
        ("first_name,channel,purpose,status\nAma,sms,marketing,opted_in\n", "external_id, phone or email"),
        ("phone,channel,purpose,status\n", "no rows"),
        ("", "empty"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_at_upload(workspace, actor, text, message):
    with pytest.raises(ValidationError) as error:
        _upload(workspace, actor, text)
    assert message in " ".join(error.value.messages)
    assert not ConsentImport.objects.exists()


def test_running_twice_writes_once(workspace, actor, people, start):
    ci = _upload(workspace, actor, GOOD)
    start(ci)
    assert consent_import_run(import_id=ci.pk) == "not queued"
    assert ConsentEvent.objects.count() == 3


def test_upload_preview_and_start_pages(admin_client, workspace, people, django_capture_on_commit_callbacks):
    response = admin_client.post(
        reverse("consent_import_create"),
        {"file": SimpleUploadedFile("optins.csv", GOOD.encode(), "text/csv")},
    )
    ci = ConsentImport.objects.get()
    assert response["Location"] == reverse("consent_import_detail", args=[ci.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "Preview: the first 3 rows" in page and page.count('<span class="badge ok">ok</span>') == 3
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("consent_import_start", args=[ci.pk]))
    page = admin_client.get(reverse("consent_import_detail", args=[ci.pk])).content.decode()
    assert "Done: 3 changes recorded." in page
    assert "optins.csv" in admin_client.get(reverse("consent_import_list")).content.decode()


def test_preview_shows_row_errors_before_starting(admin_client, workspace, people):
    text = HEADER + "+447911000009,,sms,marketing,opted_out,,,,,,,\n"
    admin_client.post(reverse("consent_import_create"), {"file": SimpleUploadedFile("x.csv", text.encode())})
    ci = ConsentImport.objects.get()
    page = admin_client.get(reverse("consent_import_detail", args=[ci.pk])).content.decode()
    assert "phone: No contact has this phone number." in page


def test_failed_import_errors_download(admin_client, workspace, actor, people, start):
    ci = _upload(workspace, actor, HEADER + "+447911000009,,sms,marketing,opted_out,,,,,,,\n")
    start(ci)
    body = b"".join(
        admin_client.get(reverse("consent_import_errors_csv", args=[ci.pk])).streaming_content
    ).decode()
    assert (
        "line,column,value,reason" in body
        and "2,phone,+447911000009,No contact has this phone number." in body
    )


def test_an_upload_error_is_shown_next_to_the_file_field(admin_client):
    response = admin_client.post(
        reverse("consent_import_create"), {"file": SimpleUploadedFile("x.csv", b"phone,colour\n1,2\n")}
    )
    assert (
        response.status_code == 400
        and "Unknown column(s): colour" in response.context["form"].errors["file"][0]
    )


def test_errors_download_writes_formulas_as_text(admin_client, workspace, actor, people, start):
    ci = _upload(workspace, actor, HEADER + "=1+2,,sms,marketing,opted_out,,,,,,,\n")
    start(ci)
    body = b"".join(
        admin_client.get(reverse("consent_import_errors_csv", args=[ci.pk])).streaming_content
    ).decode()
    assert "2,phone,'=1+2," in body and "\n2,phone,=1+2" not in body
