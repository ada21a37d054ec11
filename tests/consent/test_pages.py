"""Consent pages as a browser without JavaScript sees them (and their htmx partials): search,
the matrix, changes with a mandatory reason, the decision preview, exports, policies, the
suppression list, roles."""

import csv
import datetime as dt
import io
import re

import pytest
from django.urls import reverse

from consent.models import ConsentEvent, ConsentRecord, FrequencyCap, Keyword, Purpose, Suppression
from cpaas.models import AuditEntry
from tests.conftest import client_for
from tests.consent.conftest import NOON, change, opt_in
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_search_by_name_phone_or_email(admin_client, workspace):
    ContactFactory(workspace=workspace, first_name="Amara", phone="+447911123456", email="amara@example.com")
    ContactFactory(workspace=workspace, first_name="Ben")
    for q in ("amar", "07911 123456", "amara@example"):
        body = admin_client.get(reverse("consent_home"), {"q": q}).content.decode()
        assert "Amara" in body and "Ben" not in body, q
    partial = admin_client.get(
        reverse("consent_home"), {"q": "ben"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "<html" not in partial.content.decode() and "Ben" in partial.content.decode()


def test_matrix_shows_each_channel_and_purpose(admin_client, contact):
    opt_in(contact)
    change(contact, "opted_out", channel="email", purpose="surveys")
    body = admin_client.get(reverse("consent_contact", args=[contact.pk])).content.decode()
    assert 'data-channel="sms"' in body and 'data-channel="push"' in body
    sms = body.split('data-channel="sms"')[1].split("</tr>")[0]
    assert 'data-purpose="marketing">\n              <span class="badge allowed">Opted in' in sms
    assert 'data-purpose="transactional">\n              <span class="badge allowed">Allowed (basis)' in sms
    email = body.split('data-channel="email"')[1].split("</tr>")[0]
    assert 'data-purpose="surveys">\n              <span class="badge deny">Opted out' in email
    assert "Send me offers by text" in body  # the evidence in the history


def test_admin_changes_a_status_with_a_reason_and_sees_it_in_the_history(admin_client, contact):
    url = reverse("consent_change", args=[contact.pk])
    form = admin_client.get(url, {"channel": "sms", "purpose": "marketing"}).content.decode()
    assert '<option value="sms" selected>' in form and '<option value="marketing" selected>' in form
    response = admin_client.post(
        url,
        {
            "channel_kind": "sms",
            "purpose": "marketing",
            "status": "opted_out",
            "method": "agent_verbal",
            "reason": "Called in, ref 5521",
        },  # fmt: skip
        follow=True,
    )
    body = response.content.decode()
    assert "Sms marketing" not in body and "SMS marketing: opted out. Recorded in the history." in body
    assert "Called in, ref 5521" in body and "Told an agent" in body
    event = ConsentEvent.objects.get()
    assert (event.actor_type, event.actor_label, event.new_status) == ("user", "alice-admin", "opted_out")


def test_a_change_without_reason_shows_the_error_next_to_the_field(admin_client, contact):
    response = admin_client.post(
        reverse("consent_change", args=[contact.pk]),
        {
            "channel_kind": "sms",
            "purpose": "marketing",
            "status": "opted_out",
            "method": "agent_verbal",
            "reason": "",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert not ConsentEvent.objects.exists()


def test_an_opt_in_without_evidence_is_refused_beside_the_notice_field(admin_client, contact):
    response = admin_client.post(
        reverse("consent_change", args=[contact.pk]),
        {
            "channel_kind": "sms",
            "purpose": "marketing",
            "status": "opted_in",
            "method": "web_form",
            "reason": "Form",
        },
    )
    assert response.status_code == 400
    assert "needs evidence" in response.context["form"].errors["notice_text"][0]


def test_change_form_over_htmx_is_a_partial_and_errors_stay_swappable(admin_client, contact):
    url = reverse("consent_change", args=[contact.pk])
    htmx = {"HX-Request": "true", "HX-Target": "change-panel"}
    partial = admin_client.get(url, headers=htmx).content.decode()
    assert partial.lstrip().startswith('<form id="change-form"')
    bad = admin_client.post(url, {"channel_kind": "sms", "purpose": "marketing", "status": "opted_out",
                                  "method": "agent_verbal", "reason": ""}, headers=htmx)  # fmt: skip
    assert bad.status_code == 200 and "has-error" in bad.content.decode()
    ok = admin_client.post(url, {"channel_kind": "sms", "purpose": "marketing", "status": "opted_out",
                                 "method": "agent_verbal", "reason": "asked"}, headers=htmx)  # fmt: skip
    assert ok["HX-Redirect"] == reverse("consent_contact", args=[contact.pk])


def test_decision_preview(admin_client, contact):
    url = reverse("consent_contact_check", args=[contact.pk])
    body = admin_client.get(
        url,
        {"channel_kind": "sms", "purpose": "marketing", "automated": "on"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "<code>consent.missing</code>" in body and "<html" not in body
    opt_in(contact)
    body = admin_client.get(
        url, {"channel_kind": "sms", "purpose": "marketing", "at": "2026-05-04T23:30"}
    ).content.decode()
    assert "quiet_hours" in body and "Send at 2026-05-05" in body


def test_read_only_roles_see_the_registry_but_cannot_change_it(client_of, contact):
    viewer = client_of("viewer")
    body = viewer.get(reverse("consent_contact", args=[contact.pk])).content.decode()
    assert "Channels × purposes" in body and "Change SMS Marketing" not in body and "Erase" not in body
    admin = client_of("admin_user")
    assert (
        'aria-label="Change SMS Marketing"'
        in admin.get(reverse("consent_contact", args=[contact.pk])).content.decode()
    )


@pytest.fixture
def client_of(request):
    return lambda name: client_for(request.getfixturevalue(name))


def test_contact_page_shows_a_consent_badge_per_channel(marketer_client, contact):
    opt_in(contact)
    change(contact, "opted_out", channel="email", purpose="transactional")
    body = marketer_client.get(reverse("contact_detail", args=[contact.pk])).content.decode()
    assert re.search(r'title="Consent on SMS"><svg[^>]*>.*?</svg> SMS: marketing ok</span>', body)
    assert re.search(r'title="Consent on Email"><svg[^>]*>.*?</svg> Email: opted out</span>', body)
    assert re.search(r'title="Consent on Voice"><svg[^>]*>.*?</svg> Voice: no opt-in</span>', body)
    assert "Push" not in body.split("consent-badges")[1].split("</div>")[0]  # no push address


def test_audit_trail_and_registry_csv(admin_client, contact, workspace):
    opt_in(contact, evidence={"notice_text": '=HYPERLINK("x")', "notice_version": "v3"})
    change(contact, "opted_out", at=NOON + dt.timedelta(days=1))
    ContactFactory(workspace=workspace)
    response = admin_client.get(reverse("consent_contact_audit_csv", args=[contact.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    assert rows[0][:3] == ["event_id", "contact_id", "occurred_at"]
    assert [r[8] for r in rows[1:]] == ["opted_in", "opted_out"]  # new_status, oldest first
    assert rows[1][16] == '\'=HYPERLINK("x")'  # not a formula in a spreadsheet
    registry = admin_client.get(reverse("consent_registry_csv"))
    lines = b"".join(registry.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0].startswith("contact_id,channel,purpose") and len(lines) == 2 and "opted_out" in lines[1]
    exports = AuditEntry.objects.filter(action__startswith="consent.export.").values_list("action", "data")
    assert sorted(exports) == [
        ("consent.export.audit_trail", {"contact_id": contact.pk}),
        ("consent.export.registry", {}),
    ]


def test_events_page_filters(admin_client, contact):
    opt_in(contact)
    change(contact, "opted_out", channel="email", purpose="surveys", reason="Too many surveys")
    body = admin_client.get(reverse("consent_events"), {"channel": "email"}).content.decode()
    assert "Too many surveys" in body and "Signed up on the website" not in body


# --- policies ------------------------------------------------------------------------------------


def test_policies_page_shows_the_defaults_with_their_sources(client_of):
    body = client_of("viewer").get(reverse("consent_policies")).content.decode()
    assert "built-in defaults" in body and "1006.14(b)(2)(i)" in body and "PECR reg. 22" in body
    assert "UNSUBSCRIBE" in body and "ARRET" in body and "se ha dado de baja" in body
    assert '<form method="post" action="/consent/policies/"' not in body  # read-only for a viewer


def test_admin_changes_quiet_hours_caps_keywords_and_replies(admin_client, workspace, contact):
    response = admin_client.post(reverse("consent_policies"), {"quiet_start": "20:00", "quiet_end": "09:00"})
    assert response.status_code == 302
    from consent.services import check

    assert (
        check(contact, "sms", "surveys", dt.datetime(2026, 5, 4, 19, 30, tzinfo=dt.UTC)).rule == "quiet_hours"
    )
    assert FrequencyCap.objects.filter(workspace=workspace).count() == 2  # the defaults, written out
    admin_client.post(reverse("consent_cap_save"), {"purpose": "surveys", "channel_kind": "email", "limit": 1,
                                                    "period_hours": 720})  # fmt: skip
    assert FrequencyCap.objects.get(workspace=workspace, purpose="surveys").limit == 1
    admin_client.post(reverse("consent_keyword_add"), {"word": "halt", "language": "de", "action": "stop"})
    assert Keyword.objects.filter(workspace=workspace, word="HALT", language="de").exists()
    admin_client.post(
        reverse("consent_reply_save"), {"action": "stop", "language": "de", "text": "Abgemeldet."}
    )
    body = admin_client.get(reverse("consent_policies")).content.decode()
    assert "HALT" in body and "Abgemeldet." in body and "built-in defaults" not in body
    assert AuditEntry.objects.filter(action__startswith="consent.").count() >= 4


def test_policy_guard_rails_show_their_reason(admin_client, workspace):
    response = admin_client.post(
        reverse("consent_purpose_edit", args=["collections"]),
        {
            "label": "Collections",
            "rule": "unless_opted_out",
            "default_basis": "legal_obligation",
            "quiet_hours": "custom",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },  # fmt: skip
    )
    assert response.status_code == 400 and "Regulation F" in response.content.decode()
    response = admin_client.post(
        reverse("consent_cap_save"),
        {"purpose": "collections", "channel_kind": "voice", "limit": 10, "period_hours": 168},
    )
    assert response.status_code == 400 and "at most 7 in 7 days" in response.content.decode()
    response = admin_client.post(
        reverse("consent_purpose_edit", args=["marketing"]),
        {
            "label": "Marketing",
            "rule": "unless_opted_out",
            "default_basis": "legitimate_interest",
            "quiet_hours": "workspace",
        },
    )
    assert response.status_code == 400 and "explicit opt-in" in response.content.decode()


def test_custom_purpose_appears_in_the_matrix_and_check(admin_client, workspace, contact):
    response = admin_client.post(
        reverse("consent_purpose_create"),
        {
            "key": "appointment_reminders",
            "label": "Appointment reminders",
            "rule": "unless_opted_out",
            "default_basis": "contract",
            "quiet_hours": "workspace",
        },  # fmt: skip
    )
    assert response.status_code == 302
    assert Purpose.objects.get(workspace=workspace).key == "appointment_reminders"
    body = admin_client.get(reverse("consent_contact", args=[contact.pk])).content.decode()
    assert "Appointment reminders" in body
    from consent.services import check

    assert check(contact, "sms", "appointment_reminders", NOON).rule == "basis.contract"


def test_keyword_tester(admin_client):
    body = admin_client.get(reverse("consent_keyword_try"), {"text": " Arrêt ", "language": "fr"},
                            headers={"HX-Request": "true"}).content.decode()  # fmt: skip
    assert "<code>ARRET</code>" in body and "vous êtes désabonné" in body and "<html" not in body
    body = admin_client.get(reverse("consent_keyword_try"), {"text": "stop please"}).content.decode()
    assert "<code>STOP</code>" in body  # a plain revocation
    body = admin_client.get(reverse("consent_keyword_try"), {"text": "hello there"}).content.decode()
    assert "Not a keyword" in body
    body = admin_client.get(reverse("consent_keyword_try"), {"text": "cancel my order"}).content.decode()
    assert "Not a keyword" in body and "review list" in body


# --- suppression list -------------------------------------------------------------------------------


def test_suppression_list_add_find_and_lift(admin_client, workspace, contact):
    response = admin_client.post(
        reverse("consent_suppressions"),
        {"address": "07911 123456", "channel_kind": "", "reason": "complaint", "note": "Complaint 12"},
    )
    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert entry.address_hint == "+44•••••••456" and entry.contact == contact and entry.channel_kind == ""
    assert set(ConsentRecord.objects.filter(contact=contact).values_list("status", flat=True)) == {
        "suppressed"
    }
    found = admin_client.get(reverse("consent_suppressions"), {"q": "+44 7911 123456"}).content.decode()
    assert "Complaint 12" in found
    missing = admin_client.get(reverse("consent_suppressions"), {"q": "+447911000000"}).content.decode()
    assert "not on the list" in missing
    duplicate = admin_client.post(
        reverse("consent_suppressions"), {"address": "+447911123456", "reason": "admin", "note": "again"}
    )
    assert duplicate.status_code == 400 and "already on the suppression list" in duplicate.content.decode()
    lift = reverse("consent_suppression_lift", args=[entry.pk])
    assert admin_client.post(lift, {"reason": ""}).status_code == 400
    assert admin_client.post(lift, {"reason": "Asked to hear from us, letter 3 May"}).status_code == 302
    assert not Suppression.objects.exists()
    assert not ConsentRecord.objects.filter(contact=contact, status="suppressed").exists()


def test_a_bad_address_is_explained(admin_client):
    response = admin_client.post(
        reverse("consent_suppressions"),
        {"address": "0791", "channel_kind": "sms", "reason": "admin", "note": "x"},
    )
    assert (
        response.status_code == 400
        and "not a valid phone number" in response.context["form"].errors["address"][0]
    )
