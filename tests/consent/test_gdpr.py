"""GDPR export and erasure through the cpaas.gdpr registry: erasure leaves only suppression
hashes, and a later contact with the same phone or email is never contacted."""

import dataclasses
import datetime as dt
import hashlib
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from consent import services
from consent.models import ConsentEvent, ConsentRecord, InboundRecord, SendRecord, Suppression
from contacts.models import Contact, Event
from cpaas import gdpr
from cpaas.models import AuditEntry
from tests.consent.conftest import NOON, opt_in
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(workspace, actor):
    from contacts.services import contact_create

    contact = contact_create(
        workspace=workspace,
        actor=actor,
        data={
            "first_name": "Wanjiru",
            "last_name": "Kamau",
            "phone": "+447911123456",
            "email": "Wanjiru@Example.com",
            "addresses": {"whatsapp": "447911123456", "messenger": "psid-889"},
            "tags": ["vip"],
        },  # fmt: skip
    )
    opt_in(contact, evidence={"notice_text": "Texts please", "ip_address": "203.0.113.9"})
    opt_in(contact, channel="email", at=NOON + dt.timedelta(minutes=1))
    services.inbound_keyword(
        contact=contact, channel_kind="whatsapp", text="STOP", at=NOON, inbound_message_id="w-1"
    )
    services.send_recorded(contact=contact, channel_kind="sms", purpose="marketing", at=NOON)
    services.inbound_recorded(contact=contact, channel_kind="whatsapp", at=NOON)
    EventFactory(contact=contact, name="payment_completed", properties={"amount": 12})
    return contact


def test_export_gathers_every_app_s_data(person, actor):
    document = gdpr.contact_export(contact=person, actor=actor, at=NOON)
    json.dumps(document)  # machine-readable as it is
    sections = document["sections"]
    assert {"contacts", "consent"} <= set(sections)
    assert sections["contacts"]["profile"]["phone"] == "+447911123456"
    assert (
        sections["contacts"]["tags"] == ["vip"]
        and sections["contacts"]["events"][0]["name"] == "payment_completed"
    )
    consent = sections["consent"]
    assert {r["channel_kind"] for r in consent["records"]} == {"sms", "email", "whatsapp"}
    assert any(
        e["ip_address"] == "203.0.113.9" and e["notice_text"] == "Texts please" for e in consent["events"]
    )
    assert consent["suppressions"][0]["reason"] == "keyword"
    assert consent["sends"][0]["purpose"] == "marketing"
    assert AuditEntry.objects.get(action="gdpr.contact.exported").data["contact_id"] == person.pk


def test_erasure_leaves_only_suppression_hashes_and_blocks_later_contact(person, actor, workspace):
    contact_id = person.pk
    done = gdpr.contact_erase(
        contact=person, actor=actor, reason="Art. 17 request, ticket 881", confirmation="ERASE", at=NOON
    )
    assert done["consent"]["events"] == 7 and done["contacts"]["contact"] == 1
    # nothing personal is left
    assert not Contact.objects.filter(pk=contact_id).exists()
    assert not Event.objects.filter(contact_id=contact_id).exists()
    assert not ConsentEvent.objects.filter(contact_id=contact_id).exists()
    assert (
        not ConsentRecord.objects.exists()
        and not SendRecord.objects.exists()
        and not InboundRecord.objects.exists()
    )
    # only hashes: phone (all phone channels), email, messenger id; no link, no hint, no note
    entries = list(Suppression.objects.all())
    hashes = {s.address_hash for s in entries}
    assert hashes == {
        hashlib.sha256(b"phone:+447911123456").hexdigest(),
        hashlib.sha256(b"email:wanjiru@example.com").hexdigest(),
        hashlib.sha256(b"messenger:psid-889").hexdigest(),
    }
    assert all(s.contact_id is None and s.address_hint == "" and s.note == "" for s in entries)
    everything = json.dumps(
        [list(Suppression.objects.values()), list(AuditEntry.objects.values("target_label", "data"))],
        default=str,
    )
    for personal in ("Wanjiru", "Kamau", "7911123456", "example.com", "psid-889", "203.0.113.9"):
        assert personal not in everything, personal
    erased = AuditEntry.objects.get(action="gdpr.contact.erased")
    assert erased.data["reason"] == "Art. 17 request, ticket 881" and erased.actor_label == "alice-admin"
    # the same person comes back as a new contact: never contacted again, on any channel
    again = ContactFactory(workspace=workspace, phone="+447911123456", email="WANJIRU@example.com ")
    for channel, purpose in [
        ("sms", "transactional"),
        ("voice", "collections"),
        ("email", "otp"),
        ("whatsapp", "otp"),
    ]:
        decision = services.check(again, channel, purpose, NOON, is_template=True)
        assert decision.rule == "suppression", (channel, decision)
    with pytest.raises(ValidationError):  # and an erasure entry cannot be lifted
        services.suppression_lift(suppression=entries[0], actor=actor, reason="oops", at=NOON)


def test_erasure_needs_the_typed_confirmation_and_a_reason(person, actor):
    with pytest.raises(ValidationError) as error:
        gdpr.contact_erase(contact=person, actor=actor, reason="", confirmation="erase", at=NOON)
    assert set(error.value.message_dict) == {"confirmation", "reason"}
    assert Contact.objects.filter(pk=person.pk).exists() and ConsentEvent.objects.count() == 7


def test_erasure_is_all_or_nothing(person, actor, monkeypatch):
    def broken(subject):
        raise RuntimeError("disk full")

    registration = gdpr.registrations()["contacts"]  # fails after consent's eraser ran
    monkeypatch.setitem(gdpr._registry, "contacts", dataclasses.replace(registration, erase=broken))
    with pytest.raises(RuntimeError):
        gdpr.contact_erase(contact=person, actor=actor, reason="r", confirmation="ERASE", at=NOON)
    assert ConsentEvent.objects.count() == 7 and Contact.objects.filter(pk=person.pk).exists()
    assert not Suppression.objects.filter(reason="erasure").exists()


def test_erase_page_with_typed_confirmation(admin_client, person):
    url = reverse("consent_contact_erase", args=[person.pk])
    page = admin_client.get(url).content.decode()
    assert "Type ERASE to confirm" in page and "It cannot be undone" in page
    response = admin_client.post(url, {"reason": "Art. 17", "confirmation": "erase please"})
    assert response.status_code == 400 and "Type ERASE to confirm." in response.content.decode()
    assert Contact.objects.filter(pk=person.pk).exists()
    response = admin_client.post(url, {"reason": "Art. 17", "confirmation": "ERASE"}, follow=True)
    assert "erased. 3 suppression hash(es) kept" in response.content.decode()
    assert not Contact.objects.filter(pk=person.pk).exists()


def test_export_download(admin_client, person):
    response = admin_client.get(reverse("consent_contact_export", args=[person.pk]))
    assert response["Content-Type"] == "application/json"
    assert 'filename="contact-' in response["Content-Disposition"]
    assert json.loads(response.content)["sections"]["contacts"]["profile"]["first_name"] == "Wanjiru"
