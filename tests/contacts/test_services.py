"""Contact and event services: audit entries, uniqueness, idempotency, the event bus."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from contacts import services
from contacts.models import Contact, Event
from cpaas import bus
from cpaas.models import AuditEntry, RealtimeEvent
from cpaas.tenancy import Actor
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_create_normalises_audits_and_publishes(workspace, admin_user):
    contact = services.contact_create(
        workspace=workspace,
        actor=Actor.for_user(admin_user),
        data={"first_name": "Ann", "phone": "07911 123456", "tags": ["vip"]},
    )
    assert contact.phone == "+447911123456"
    assert [t.name for t in contact.tags.all()] == ["vip"]
    entry = AuditEntry.objects.get(action="contacts.contact.created")
    assert entry.actor_user == admin_user and entry.target_id == str(contact.pk)
    published = RealtimeEvent.objects.get()
    assert published.group == f"ws.{workspace.pk}.contacts"
    assert published.payload["type"] == "contact.created" and "Ann" in published.payload["html"]


def test_duplicate_phone_is_a_field_error(workspace, admin_user):
    ContactFactory(workspace=workspace, phone="+447911123456")
    with pytest.raises(ValidationError) as exc:
        services.contact_create(workspace=workspace, actor=Actor.system(), data={"phone": "+44 7911 123456"})
    assert "already has this phone" in exc.value.message_dict["phone"][0]
    assert Contact.objects.count() == 1


def test_same_phone_in_another_workspace_is_fine(workspace, other_workspace):
    ContactFactory(workspace=other_workspace, phone="+447911123456")
    services.contact_create(workspace=workspace, actor=Actor.system(), data={"phone": "+447911123456"})


def test_update_changes_only_given_fields_and_records_them(workspace, admin_user):
    contact = ContactFactory(workspace=workspace, first_name="Ann", email="ann@example.com")
    services.contact_update(contact=contact, actor=Actor.for_user(admin_user), data={"first_name": "Anne"})
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Anne", "ann@example.com")
    assert AuditEntry.objects.get(action="contacts.contact.updated").data == {"fields": ["first_name"]}


def test_upsert_creates_then_updates(workspace):
    first, created = services.contact_upsert(
        workspace=workspace, actor=Actor.system(), external_id="C-1", data={"email": "x@example.com"}
    )
    second, created_again = services.contact_upsert(
        workspace=workspace, actor=Actor.system(), external_id="C-1", data={"first_name": "X"}
    )
    assert created and not created_again and first.pk == second.pk
    second.refresh_from_db()
    assert (second.first_name, second.email) == ("X", "x@example.com")


def test_failed_update_writes_nothing(workspace):
    contact = ContactFactory(workspace=workspace, first_name="Ann")
    with pytest.raises(ValidationError):
        services.contact_update(
            contact=contact, actor=Actor.system(), data={"first_name": "Bea", "email": "bad"}
        )
    contact.refresh_from_db()
    assert (
        contact.first_name == "Ann" and not AuditEntry.objects.exists() and not RealtimeEvent.objects.exists()
    )


def test_event_idempotency(workspace):
    contact = ContactFactory(workspace=workspace)
    first, created = services.event_record(
        workspace=workspace, contact=contact, name="paid", idempotency_key="k1", properties={"amount": 10}
    )
    again, created_again = services.event_record(
        workspace=workspace, contact=contact, name="paid", idempotency_key="k1", properties={"amount": 10}
    )
    assert created and not created_again and first.pk == again.pk
    with pytest.raises(services.IdempotencyConflict) as exc:
        services.event_record(
            workspace=workspace, contact=contact, name="paid", idempotency_key="k1", properties={"amount": 99}
        )
    assert "Already used for a different event" in exc.value.message_dict["idempotency_key"][0]
    assert Event.objects.count() == 1


def test_event_needs_an_aware_time_and_a_name(workspace):
    contact = ContactFactory(workspace=workspace)
    with pytest.raises(ValidationError) as exc:
        services.event_record(
            workspace=workspace, contact=contact, name=" ", occurred_at=dt.datetime(2026, 1, 1, 10, 0)
        )
    assert set(exc.value.message_dict) == {"name", "occurred_at"}


def test_event_for_another_workspaces_contact_is_refused(workspace, other_workspace):
    foreign = ContactFactory(workspace=other_workspace)
    with pytest.raises(ValidationError):
        services.event_record(workspace=workspace, contact=foreign, name="x")


def test_bus_handlers_run_inside_the_transaction(workspace):
    contact = ContactFactory(workspace=workspace)
    seen = []

    def on_paid(event):
        seen.append(event.name)
        services.contact_update(contact=event.contact, actor=Actor.system(), data={"first_name": "Paid"})

    bus.subscribe("payment_completed")(on_paid)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.event_record(workspace=workspace, contact=contact, name="payment_completed")
            raise RuntimeError("caller fails after the event")
        contact.refresh_from_db()
        assert seen == ["payment_completed"] and contact.first_name != "Paid"  # rolled back together
        assert not Event.objects.exists()

        services.event_record(workspace=workspace, contact=contact, name="payment_completed")
        services.event_record(workspace=workspace, contact=contact, name="other")
        contact.refresh_from_db()
        assert seen == ["payment_completed", "payment_completed"] and contact.first_name == "Paid"
    finally:
        bus.unsubscribe("payment_completed", on_paid)


def test_delete_is_audited(workspace):
    contact = ContactFactory(workspace=workspace)
    services.contact_delete(contact=contact, actor=Actor.system("cleanup"))
    assert not Contact.objects.exists()
    assert AuditEntry.objects.get().actor_label == "cleanup"
