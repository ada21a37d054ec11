"""Consent changes: evidence rules, the append-only event log (model, queryset, database), the
fold that derives records, and the rebuild command."""

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from consent import services
from consent.models import AppendOnlyError, ConsentEvent, ConsentRecord, ErasureGate
from consent.services import record_fold, records_rebuild
from cpaas.models import AuditEntry
from cpaas.tenancy import Actor
from tests.consent.conftest import NOON, change, opt_in
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


# --- recording a change ----------------------------------------------------------------------------


def test_an_opt_in_is_recorded_with_its_evidence_and_audited(contact, actor):
    event, record = services.consent_change(
        contact=contact,
        channel_kind="email",
        purpose="marketing",
        status="opted_in",
        actor=actor,
        method="web_form",
        reason="Newsletter box ticked at checkout",
        evidence={
            "notice_text": "Email me offers",
            "notice_version": "2026-04",
            "url": "https://shop.test/checkout",
            "ip_address": "203.0.113.9",
            "user_agent": "Firefox/140",
            "language": "en",
        },  # fmt: skip
        at=NOON,
    )
    assert (record.status, record.lawful_basis, record.captured_at, record.confirmed_at) == (
        "opted_in", "consent", NOON, NOON,
    )  # fmt: skip
    assert event.evidence["ip_address"] == "203.0.113.9" and event.actor_label == "alice-admin"
    assert event.actor_ref == f"user:{actor.user.pk}" and event.jurisdiction == "GB"
    audit = AuditEntry.objects.get(action="consent.changed")
    assert audit.data["to"] == "opted_in" and audit.data["event_id"] == event.pk
    assert contact.phone not in str(audit.data) and contact.email not in audit.target_label


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"reason": "  "}, "reason", "Say why"),
        ({"evidence": {}}, "evidence", "needs evidence: the notice text or the notice version"),
        ({"method": "ivr", "evidence": {"notice_text": "x"}}, "evidence", "the call recording id"),
        ({"method": "system"}, "method", "given by a person"),
        ({"channel_kind": "fax"}, "channel_kind", "Unknown channel 'fax'"),
        ({"purpose": "raffle"}, "purpose", "Unknown purpose 'raffle'"),
        ({"status": "maybe"}, "status", "Unknown status"),
        ({"lawful_basis": "contract"}, "lawful_basis", "Marketing needs consent"),
        ({"lawful_basis": "soft_opt_in", "channel_kind": "whatsapp"}, "lawful_basis", "email and SMS only"),
        ({"occurred_at": NOON + DAY}, "occurred_at", "future"),
        ({"occurred_at": dt.datetime(2026, 5, 1, 9, 0)}, "occurred_at", "time zone"),
        ({"expires_at": NOON - DAY}, "expires_at", "after"),
        ({"evidence": {"notice_text": "x", "ip_address": "999.1.1.1"}}, "ip_address", "not an IP"),
        ({"evidence": {"notice_text": "x", "url": "shop.test/form"}}, "url", "https://"),
        ({"evidence": {"notice_text": "x", "shoe_size": "9"}}, "shoe_size", "Unknown evidence field"),
    ],
)
def test_bad_changes_are_refused_with_field_errors_and_nothing_is_written(
    contact, actor, kwargs, field, message
):
    params = {
        "contact": contact, "channel_kind": "sms", "purpose": "marketing", "status": "opted_in", "actor": actor,
        "method": "web_form", "reason": "Signed up", "evidence": {"notice_text": "Texts please"}, "at": NOON,
        **kwargs,
    }  # fmt: skip
    with pytest.raises(ValidationError) as error:
        services.consent_change(**params)
    assert message in " ".join(error.value.message_dict[field])
    assert not ConsentEvent.objects.exists() and not ConsentRecord.objects.exists()
    assert not AuditEntry.objects.filter(action="consent.changed").exists()


def test_an_opt_out_needs_only_a_reason(contact):
    event, record = change(contact, "opted_out", reason="Asked on the phone, call 5521")
    assert record.status == "opted_out" and record.revoked_at == NOON and event.previous_status == ""


def test_a_suppressed_address_cannot_be_opted_in_until_lifted(contact, actor):
    entry = services.suppression_add(
        workspace=contact.workspace, actor=actor, channel_kind="sms", address="07911 123456",
        reason="complaint", note="Complaint 77", at=NOON - DAY,
    )  # fmt: skip
    with pytest.raises(ValidationError) as error:
        opt_in(contact)
    assert "suppression list" in error.value.message_dict["status"][0]
    services.suppression_lift(
        suppression=entry, actor=actor, reason="Asked to hear from us again, ticket 78", at=NOON
    )
    opt_in(contact, at=NOON + dt.timedelta(minutes=1))
    assert services.check(contact, "sms", "marketing", NOON + dt.timedelta(hours=1)).outcome == "allow"


def test_soft_opt_in_counts_for_email_marketing(contact):
    opt_in(
        contact, channel="email", lawful_basis="soft_opt_in", evidence={"notice_text": "Existing customer"}
    )
    assert services.check(contact, "email", "marketing", NOON).outcome == "allow"


# --- append-only -----------------------------------------------------------------------------------


@pytest.fixture
def event(contact):
    return opt_in(contact)[0]


def test_the_model_refuses_to_update_or_delete_an_event(event):
    event.reason = "rewritten history"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.all().delete()
    event.refresh_from_db()
    assert event.reason == "Signed up on the website"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE consent_consentevent SET reason = 'rewritten'",
        "UPDATE consent_consentevent SET new_status = 'opted_out'",
        "DELETE FROM consent_consentevent",
    ],
)
def test_the_database_refuses_to_update_or_delete_an_event(event, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert ConsentEvent.objects.get(pk=event.pk).reason == "Signed up on the website"


def test_the_erasure_gate_opens_for_one_contact_only(event, workspace):
    other = opt_in(ContactFactory(workspace=workspace))[0]
    ErasureGate.objects.create(contact_id=event.contact_id)
    with pytest.raises(DatabaseError):  # the other contact's event is still protected
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM consent_consentevent WHERE id = %s", [other.pk])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentevent WHERE id = %s", [event.pk])
    assert list(ConsentEvent.objects.values_list("pk", flat=True)) == [other.pk]
    with pytest.raises(DatabaseError):  # updates never
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE consent_consentevent SET reason = 'x' WHERE id = %s", [other.pk])


def test_deleting_a_contact_keeps_its_consent_evidence(contact):
    from contacts.services import contact_delete

    opt_in(contact)
    contact_id = contact.pk
    contact_delete(contact=contact, actor=Actor.system("t"))
    assert ConsentEvent.objects.filter(contact_id=contact_id).count() == 1
    assert not ConsentRecord.objects.filter(contact_id=contact_id).exists()
    assert records_rebuild() == []  # a deleted contact's evidence has no record to compare


# --- the fold and the rebuild --------------------------------------------------------------------


def test_the_fold_follows_the_order_things_happened_not_the_order_recorded(contact):
    change(contact, "opted_out", at=NOON)
    # an import brings an older opt-in afterwards: it must not override the later opt-out
    opt_in(contact, at=NOON + dt.timedelta(minutes=5), occurred_at=NOON - 30 * DAY)
    record = ConsentRecord.objects.get(contact=contact, purpose="marketing")
    assert record.status == "opted_out" and record.revoked_at == NOON
    assert services.check(contact, "sms", "marketing", NOON + DAY).rule == "consent.opted_out"


def test_the_fold_tracks_capture_confirmation_expiry_and_revocation(contact):
    t = NOON - 10 * DAY
    change(contact, "pending", at=t, method="web_form", evidence={"notice_version": "v1"})
    opt_in(contact, at=t + DAY, expires_at=t + 400 * DAY)
    change(contact, "opted_out", at=t + 2 * DAY)
    events = list(ConsentEvent.objects.filter(contact=contact))
    state = record_fold(events)
    assert (state.status, state.captured_at, state.confirmed_at, state.revoked_at, state.expires_at) == (
        "opted_out", t, t + DAY, t + 2 * DAY, None,
    )  # fmt: skip
    assert record_fold(reversed(events)) == state  # a pure function of the events, in any order given
    assert record_fold([]) is None


def test_rebuild_equals_the_stored_records(workspace, actor):
    contacts = [ContactFactory(workspace=workspace) for _ in range(4)]
    opt_in(contacts[0])
    change(contacts[0], "opted_out", at=NOON + DAY)
    opt_in(contacts[1], channel="email", at=NOON - DAY)
    change(contacts[2], "pending", method="web_form", evidence={"notice_version": "v2"})
    services.inbound_keyword(contact=contacts[3], channel_kind="sms", text="STOP", at=NOON)
    services.inbound_keyword(contact=contacts[3], channel_kind="sms", text="START", at=NOON + DAY)
    stored = {
        (r.contact_id, r.channel_kind, r.purpose): {f: getattr(r, f) for f in ConsentRecord.STATE_FIELDS}
        for r in ConsentRecord.objects.all()
    }
    assert len(stored) == 8
    assert records_rebuild() == []
    out = io.StringIO()
    call_command("consent_rebuild", stdout=out)
    assert "0 differences" in out.getvalue()
    assert records_rebuild(write=True) == []
    after = {
        (r.contact_id, r.channel_kind, r.purpose): {f: getattr(r, f) for f in ConsentRecord.STATE_FIELDS}
        for r in ConsentRecord.objects.all()
    }
    assert after == stored


def test_rebuild_reports_a_tampered_record_and_repairs_it(contact):
    opt_in(contact)
    ConsentRecord.objects.filter(contact=contact).update(status="opted_out")  # not through the events
    ConsentRecord.objects.create(
        workspace=contact.workspace, contact=contact, channel_kind="voice", purpose="marketing",
        status="opted_in", last_event_id=0, updated_at=NOON,
    )  # fmt: skip
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("consent_rebuild", stdout=out)
    text = out.getvalue()
    assert "sms/marketing: status stored 'opted_out' != 'opted_in'" in text
    assert "voice/marketing: stored opted_in but no events" in text
    assert "2 difference(s)" in text
    call_command("consent_rebuild", "--write", stdout=io.StringIO())
    assert records_rebuild() == []
    assert ConsentRecord.objects.get(contact=contact).status == "opted_in"
