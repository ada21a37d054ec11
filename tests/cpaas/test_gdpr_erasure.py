"""GDPR export and erasure end to end: a person with distinctive identifiers goes through a
contact import, a consent import, messages both ways (the sandbox provider and the phone
simulator), a journey with steps, events, an OTP, realtime pushes and a failed background task.
The export holds every app's part; after erasure, no column of any model (Django's and
django-q2's included) holds their phone (in any written form), email or name, while a
bystander in the same uploads keeps every line."""

import datetime as dt
import json
import re
import uuid

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from channels_app.models import Message, PendingReceipt, SandboxDelivery, Verification
from consent.models import ConsentImport, Suppression
from contacts import imports
from contacts.models import Contact, ContactImport
from cpaas import gdpr
from cpaas.models import AuditEntry, RealtimeEvent
from cpaas.tenancy import Actor
from tests.journeys.conftest import linear, reply

pytestmark = pytest.mark.django_db

PHONE, NATIONAL = "+447912654321", "07912 654321"
EMAIL = "Zeb.Quillfeather@Example.org"
FIRST, LAST, EXTERNAL_ID = "Zebediah", "Quillfeather", "CUST-88231"
BYSTANDER_PHONE = "+447911000777"

CONTACTS_CSV = (
    "external_id,phone,first_name,last_name,email\n"
    f"{EXTERNAL_ID},{NATIONAL},{FIRST},{LAST},{EMAIL}\n"
    "CUST-1,07911 000777,Olive,Otherton,olive@example.net\n"
)
CONSENT_CSV = (
    "phone,email,channel,purpose,status,occurred_at,method,notice_text,notice_version,url,ip_address,reason\n"
    f"{NATIONAL},,sms,marketing,opted_in,2025-11-02T10:00:00Z,web_form,Texts about offers,v3,"
    "https://shop.test/join,203.0.113.7,\n"
    f"{BYSTANDER_PHONE},,sms,marketing,opted_in,2025-11-02T10:00:00Z,web_form,Texts about offers,v3,"
    "https://shop.test/join,203.0.113.8,\n"
)


@pytest.fixture
def actor(admin_user):
    return Actor.for_user(admin_user)


@pytest.fixture
def person(workspace, actor, admin_client, django_capture_on_commit_callbacks):
    """The person, driven through every app. Returns their contact."""
    from channels_app.services.dispatch import dispatch_pending
    from channels_app.services.messages import message_send
    from channels_app.services.verify import verification_check, verification_start
    from consent.services.imports import consent_import_start, consent_import_upload
    from contacts.services import contact_update, event_record, segment_save
    from journeys.engine import run_pending
    from journeys.services import journey_create, journey_publish

    now = timezone.now()
    # a contact import (the CSV stays in the database) that creates them and a bystander
    upload = imports.import_upload(
        workspace=workspace, actor=actor, filename="crm.csv", content=CONTACTS_CSV.encode()
    )
    imports.import_start(contact_import=upload, actor=actor, mapping=upload.mapping)
    imports.import_run(import_id=upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.created_count) == ("completed", 2), upload.errors
    contact = Contact.objects.get(phone=PHONE)
    contact_update(contact=contact, actor=actor, data={"addresses": {"messenger": "psid-zeb-5521"}})
    # a consent import with evidence for them and the bystander
    consent_upload = consent_import_upload(
        workspace=workspace, actor=actor, filename="optins.csv", content=CONSENT_CSV.encode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        consent_import_start(consent_import=consent_upload, actor=actor)
    assert ConsentImport.objects.get().status == "completed"
    # a journey started by an event whose properties name them, sending a personalised text
    journey = journey_create(
        workspace=workspace,
        actor=actor,
        name="Welcome",
        graph=linear(
            ("trigger.event", {"event": "signup"}),
            ("message.send", {"channel": "sms", "template": {"en": "Welcome {{contact.first_name}}!"}}),
        ),
    )
    journey_publish(journey=journey, actor=actor, now=now)
    event_record(
        workspace=workspace,
        contact=contact,
        name="signup",
        properties={"email": EMAIL, "full_name": f"{FIRST} {LAST}", "mobile": NATIONAL},
        now=now,
    )
    run_pending(now=now)
    # a message from the business, and the sandbox provider receives it
    message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": f"Dear {FIRST} {LAST}, we will call {PHONE}"},
        origin="agent",
    )
    # on email too
    message_send(
        workspace=workspace,
        contact=contact,
        channel="email",
        content={"text": f"Hello {FIRST}", "email": {"subject": f"For {FIRST} {LAST}", "body": "Hi"}},
        purpose="transactional",
        origin="agent",
    )
    # a segment that names them ("everyone but them")
    segment_save(
        workspace=workspace,
        actor=actor,
        name="Not the tester",
        definition={"match": "all", "rules": [{"field": "email", "op": "neq", "value": EMAIL.lower()}]},
    )
    # an OTP
    verification = verification_start(
        workspace=workspace, contact=contact, channels=["sms"], client_ip="198.51.100.23", now=now
    )
    dispatch_pending(now=now + dt.timedelta(seconds=1))
    verification_check(verification=verification, code="000000", now=now + dt.timedelta(seconds=2))
    # they reply in the phone simulator, naming themselves
    response = admin_client.post(
        reverse("simulator_reply"),
        {"contact": contact.pk, "kind": "whatsapp", "text": f"It's {FIRST}, mail me at {EMAIL}"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    # which opens the WhatsApp window for an answer
    message_send(
        workspace=workspace,
        contact=contact,
        channel="whatsapp",
        content={"text": f"Hi {FIRST}"},
        origin="agent",
    )
    dispatch_pending(now=timezone.now())
    # their message opened an inbox conversation: an agent notes their number, and replies
    from inbox.models import Conversation
    from inbox.services import note_add, reply_send

    conversation = Conversation.objects.get(contact=contact)
    note_add(actor=actor, conversation=conversation, body=f"{FIRST} asked us to call {NATIONAL}")
    reply_send(actor=actor, conversation=conversation, channel_kind="whatsapp", text=f"Will do, {FIRST}")
    # and then ask, in their own words, to be left alone
    admin_client.post(
        reverse("simulator_reply"),
        {"contact": contact.pk, "kind": "sms", "text": f"stop sending me messages, {FIRST} {LAST}"},
    )
    # a background task that failed with a value in its error (as PostgreSQL's DETAIL quotes it)
    from django_q.models import Task

    Task.objects.create(
        id=uuid.uuid4().hex,
        name="zulu-kilo",
        func="contacts.tasks.contact_import_run",
        args=(upload.pk,),
        result=f"IntegrityError: duplicate key value\nDETAIL: Key (workspace_id, phone)=(1, {PHONE}) exists.",
        started=now,
        stopped=now,
        success=False,
    )
    # a receipt that came before its send was recorded
    outbound = Message.objects.filter(contact=contact, direction="out").first()
    PendingReceipt.objects.create(
        channel=outbound.channel, reference=outbound.reference, status="read", at=now, received_at=now,
        source="receipt",
    )  # fmt: skip
    # everything happened: both directions, the provider's copy, steps, realtime pushes
    assert set(Message.objects.filter(contact=contact).values_list("direction", flat=True)) == {"in", "out"}
    assert SandboxDelivery.objects.filter(to_address=PHONE).count() >= 3
    assert SandboxDelivery.objects.filter(to_address=EMAIL.lower()).exists()
    assert contact.enrollments.get().steps.count() >= 2
    assert Verification.objects.filter(contact=contact).exists()
    assert RealtimeEvent.objects.filter(group__endswith=".simulator").exists()
    assert RealtimeEvent.objects.filter(payload__icontains=LAST).exists()
    return contact


# --- export ---------------------------------------------------------------------------------------


def test_export_holds_every_app_s_part(person, actor):
    document = gdpr.contact_export(contact=person, actor=actor, at=timezone.now())
    json.dumps(document)  # machine-readable as it is
    sections = document["sections"]
    assert set(sections) == set(gdpr.registrations())
    assert sections["contacts"]["profile"]["email"] == EMAIL.lower()
    assert {e["name"] for e in sections["contacts"]["events"]} >= {"signup", "message.received"}
    messages = sections["channels_app"]["messages"]
    assert {m["direction"] for m in messages} == {"in", "out"}
    assert any(m["text"] == f"Welcome {FIRST}!" for m in messages)
    assert any(m["text"].startswith(f"It's {FIRST}") for m in messages)
    assert any(h["status"] == "received" for m in messages for h in m["status_history"])
    (verification,) = sections["channels_app"]["verifications"]
    assert verification["address"] == PHONE and "code_hash" not in verification
    assert verification["client_ip"] == "198.51.100.23"  # the IP it was asked from is theirs too
    (enrollment,) = sections["journeys"]["enrollments"]
    assert enrollment["journey__name"] == "Welcome" and enrollment["context"]["event"]["email"] == EMAIL
    assert [s["node_type"] for s in enrollment["steps"]][:2] == ["trigger.event", "message.send"]
    assert {r["channel_kind"] for r in sections["consent"]["records"]} == {"sms"}
    assert any(e["action"] == "contacts.contact.updated" for e in sections["cpaas"]["audit"])
    (conversation,) = sections["inbox"]["conversations"]
    assert conversation["queue__name"] == "support"
    assert any(e["kind"] == "note" and e["body"].startswith(FIRST) for e in sections["inbox"]["entries"])
    assert len(sections["inbox"]["replies"]) == 1


# --- erasure --------------------------------------------------------------------------------------


def _national_digits(phone: str) -> str:
    return phone.removeprefix("+44")


def _texts(model, row: dict):
    """Every stored value of a row as text; sessions and queued tasks decoded first."""
    for name, value in row.items():
        if model is Session and name == "session_data":
            value = Session.objects.get(pk=row["session_key"]).get_decoded()
        if model._meta.label == "django_q.OrmQ" and name == "payload":
            from django_q.signing import SignedPackage

            value = SignedPackage.loads(value)
        if isinstance(value, bytes | memoryview):
            value = bytes(value).decode("utf-8", errors="replace")
        yield (
            name,
            json.dumps(value, default=repr, ensure_ascii=False) if not isinstance(value, str) else value,
        )


def leftovers(phones: list[str], email: str, names: list[str]) -> list[str]:
    """Every (table, column, pk) in the database that still holds one of the identifiers: the
    phone in any form (its national digits, with separators removed), the email, a name."""
    digits = [_national_digits(p) for p in phones]
    words = [email.casefold(), *(n.casefold() for n in names)]
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f.attname for f in model._meta.concrete_fields]
        for row in model._default_manager.values(*fields).iterator():
            for name, text in _texts(model, row):
                folded = text.casefold()
                bare = re.sub(r"[\s\-.()/+]", "", text)
                if any(w in folded for w in words) or any(d in bare for d in digits):
                    found.append(
                        f"{model._meta.db_table}.{name} (pk {row[model._meta.pk.attname]}): {text[:120]}"
                    )
    return found


def test_the_search_finds_what_a_person_leaves(person):
    # the check itself: before erasure it finds them everywhere the story put them
    found = "\n".join(leftovers([PHONE], EMAIL, [FIRST, LAST]))
    for table in ("contacts_contact.", "contacts_contactimport.content", "consent_consentimport.content",
                  "channels_app_message.", "channels_app_sandboxdelivery.", "cpaas_realtimeevent.payload",
                  "cpaas_auditentry.", "journeys_enrollment.context",
                  "contacts_event.properties", "channels_app_verification.address", "django_q_task.result",
                  "contacts_segment.definition"):  # fmt: skip
        assert table in found, table


def test_erasure_leaves_no_phone_email_or_name_in_any_table(person, actor, workspace):
    bystander = Contact.objects.get(phone=BYSTANDER_PHONE)
    contact_id = person.pk
    done = gdpr.contact_erase(
        contact=person,
        actor=actor,
        reason=f"Art. 17 request from {FIRST} {LAST}, ticket 881",
        confirmation="ERASE",
        at=timezone.now(),
    )
    assert done["contacts"]["contact"] == 1 and done["channels_app"]["messages"] >= 3
    assert leftovers([PHONE], EMAIL, [FIRST, LAST, EXTERNAL_ID, "psid-zeb-5521"]) == []
    # what stays: the suppression hashes, and the bystander's lines in both uploads
    assert Suppression.objects.filter(reason="erasure").count() == 3
    assert not PendingReceipt.objects.exists()
    contact_csv = bytes(ContactImport.objects.get().content).decode()
    assert "CUST-1,07911 000777,Olive,Otherton,olive@example.net" in contact_csv
    assert contact_csv.splitlines()[0] == "external_id,phone,first_name,last_name,email"
    assert contact_csv.splitlines()[1] == ""  # their line is blank: later lines keep their numbers
    assert f"{BYSTANDER_PHONE},,sms,marketing" in bytes(ConsentImport.objects.get().content).decode()
    assert Contact.objects.filter(pk=bystander.pk).exists()
    # the audit keeps who did what, without the person
    erased = AuditEntry.objects.get(action="gdpr.contact.erased")
    assert erased.data["reason"] == "Art. 17 request from [erased] [erased], ticket 881"
    assert AuditEntry.objects.filter(target_label=f"erased contact #{contact_id}").exists()


def test_an_erased_line_stays_out_of_a_later_look_at_the_upload(person, actor):
    gdpr.contact_erase(contact=person, actor=actor, reason="Art. 17", confirmation="ERASE", at=timezone.now())
    upload = ContactImport.objects.get()
    preview = imports.import_preview(contact_import=upload)
    assert [cells[0] for _, cells in preview] == ["CUST-1"]
    assert preview[0][0] == 3  # the bystander is still on line 3


@pytest.mark.parametrize("model", [ContactImport, ConsentImport])
def test_erasure_waits_for_a_running_import_that_lists_the_person(person, actor, model):
    # the worker has read the file and would write their row (or its errors) back from memory
    model.objects.update(status="writing")
    with pytest.raises(ValidationError) as error:
        gdpr.contact_erase(
            contact=person, actor=actor, reason="Art. 17", confirmation="ERASE", at=timezone.now()
        )
    assert "is running now: erase them once it has finished" in error.value.messages[0]
    assert Contact.objects.filter(pk=person.pk).exists() and Message.objects.filter(contact=person).exists()
    assert NATIONAL in bytes(model.objects.get().content).decode()


def test_what_others_wrote_about_the_person_loses_them_in_this_workspace_only(
    person, actor, workspace, other_workspace
):
    from contacts.services import event_record
    from tests.factories import ContactFactory

    bystander = Contact.objects.get(phone=BYSTANDER_PHONE)
    reply(bystander, f"My neighbour {FIRST} {LAST} is on 07912-654-321")
    event_record(
        workspace=workspace, contact=bystander, name="referral", properties={"friend": EMAIL.lower()}
    )
    # a namesake here who gave them as an emergency contact: keeps their own name
    namesake_here = ContactFactory(
        workspace=workspace, first_name=FIRST, phone="+447911000999", attributes={"emergency": NATIONAL}
    )
    # another workspace (another controller) knows the same person: its data is its own
    namesake = ContactFactory(workspace=other_workspace, first_name=FIRST, last_name=LAST, phone=PHONE)
    event_record(workspace=other_workspace, contact=namesake, name="signup", properties={"email": EMAIL})

    done = gdpr.contact_erase(
        contact=person, actor=actor, reason="Art. 17", confirmation="ERASE", at=timezone.now()
    )

    assert done["cpaas"]["swept"] == {"channels_app.Message": 1, "contacts.Event": 2, "contacts.Contact": 1}
    namesake_here.refresh_from_db()
    assert (namesake_here.first_name, namesake_here.attributes) == (FIRST, {"emergency": "[erased]"})
    said = Message.objects.get(contact=bystander, direction="in")
    assert said.text == "My neighbour [erased] [erased] is on [erased]"
    assert bystander.events.get(name="referral").properties == {"friend": "[erased]"}
    namesake.refresh_from_db()
    assert (namesake.first_name, namesake.phone) == (FIRST, PHONE)
    assert namesake.events.get().properties == {"email": EMAIL}
    for table in leftovers([PHONE], EMAIL, [FIRST, LAST]):
        assert table.startswith(("contacts_contact.", "contacts_event.")), table  # the namesake's only


def test_append_only_evidence_of_another_person_is_left_as_it_is(person, actor):
    from consent.models import ConsentEvent
    from consent.services import consent_change

    bystander = Contact.objects.get(phone=BYSTANDER_PHONE)
    event, _ = consent_change(
        contact=bystander,
        channel_kind="email",
        purpose="marketing",
        status="opted_in",
        actor=actor,
        method="web_form",
        reason="Signed up",
        at=timezone.now(),
        evidence={"notice_text": f"Referred by {PHONE}"},
    )
    # the database refuses to rewrite consent evidence: the sweep must not try (or erasure fails)
    gdpr.contact_erase(contact=person, actor=actor, reason="Art. 17", confirmation="ERASE", at=timezone.now())
    assert ConsentEvent.objects.get(pk=event.pk).notice_text == f"Referred by {PHONE}"
