"""Contact pages as a browser without JavaScript sees them: forms, errors next to fields,
htmx partials, export."""

import csv
import io

import pytest
from django.urls import reverse

from contacts.models import Contact, Segment
from contacts.services import tags_ensure
from tests.factories import AttributeDefinitionFactory, ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


def test_create_with_typed_attributes_and_addresses(marketer_client, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="due_date", label="Due date", type="date")
    response = marketer_client.post(
        reverse("contact_create"),
        {
            "first_name": "Ama",
            "phone": "07911 123456",
            "attr_due_date": "2026-12-01",
            "address_whatsapp": "447911123456",
            "tags": "vip, new",
            "timezone": "Europe/London",
        },
    )
    contact = Contact.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "contact_detail", args=[contact.pk]
    )
    assert contact.attributes == {"due_date": "2026-12-01"}
    assert contact.addresses == {"whatsapp": "447911123456"}
    page = marketer_client.get(response["Location"]).content.decode()
    assert "Due date" in page and "2026-12-01" in page and "vip" in page


def test_errors_are_shown_next_to_their_fields_and_nothing_is_saved(marketer_client, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="balance", label="Balance", type="number")
    response = marketer_client.post(
        reverse("contact_create"),
        {
            "first_name": "Ama",
            "phone": "12",
            "timezone": "Moon/Base",
            "attr_balance": "lots",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "phone" in form.errors and "timezone" in form.errors and "attr_balance" in form.errors
    assert "not a number" in form.errors["attr_balance"][0]
    assert not Contact.objects.exists()


def test_edit_keeps_other_attributes(marketer_client, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="plan", label="Plan", type="text")
    contact = ContactFactory(workspace=workspace, attributes={"plan": "gold", "legacy": 1})
    form = marketer_client.get(reverse("contact_edit", args=[contact.pk])).context["form"]
    assert form.initial["attr_plan"] == "gold"
    marketer_client.post(
        reverse("contact_edit", args=[contact.pk]),
        {**{k: v for k, v in form.initial.items() if v not in (None, False)}, "attr_plan": "basic"},
    )
    contact.refresh_from_db()
    assert contact.attributes == {"plan": "basic", "legacy": 1}


def test_htmx_search_returns_only_the_rows(marketer_client, workspace):
    ContactFactory(workspace=workspace, first_name="Findme")
    ContactFactory(workspace=workspace, first_name="Other")
    response = marketer_client.get(
        reverse("contact_list"), {"q": "findme"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    body = response.content.decode()
    assert "<html" not in body and "Findme" in body and "Other" not in body


def test_list_pages_run_a_fixed_number_of_queries(marketer_client, workspace, django_assert_max_num_queries):
    tags = tags_ensure(workspace=workspace, names=["a", "b"])
    for _ in range(30):
        ContactFactory(workspace=workspace).tags.add(*tags)
    with django_assert_max_num_queries(15):
        marketer_client.get(reverse("contact_list"))


def test_timeline_lists_events_newest_first(marketer_client, workspace):
    import datetime as dt

    contact = ContactFactory(workspace=workspace)
    EventFactory(contact=contact, name="signup", occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    EventFactory(
        contact=contact, name="payment_completed", occurred_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    )
    page = marketer_client.get(reverse("contact_detail", args=[contact.pk])).content.decode()
    assert page.index("payment_completed") < page.index("signup")


def test_record_an_event_from_the_contact_page(marketer_client, workspace):
    contact = ContactFactory(workspace=workspace)
    marketer_client.post(
        reverse("contact_event_add", args=[contact.pk]), {"name": "called", "properties": '{"by": "me"}'}
    )
    assert contact.events.get().properties == {"by": "me"}
    bad = marketer_client.post(
        reverse("contact_event_add", args=[contact.pk]), {"name": "x", "properties": "{nope"}
    )
    assert bad.status_code == 400 and contact.events.count() == 1


def test_export_has_every_column_and_respects_filters(marketer_client, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="plan", type="text")
    ContactFactory(
        workspace=workspace, first_name="Ann", attributes={"plan": "gold"}, addresses={"whatsapp": "w1"}
    )
    ContactFactory(workspace=workspace, first_name="Bob")
    response = marketer_client.get(reverse("contact_export"), {"q": "ann"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["first_name"] for r in rows] == ["Ann"]
    assert rows[0]["plan"] == "gold" and rows[0]["address_whatsapp"] == "w1"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-ws-a-')


def test_segment_editor_live_count_and_save(marketer_client, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="balance", type="number")
    ContactFactory(workspace=workspace, attributes={"balance": 10})
    ContactFactory(workspace=workspace, attributes={"balance": 0})
    preview = marketer_client.post(
        reverse("segment_preview"),
        {
            "match": "all",
            "rule_field": "attribute:balance",
            "rule_op": "gt",
            "rule_value": "0",
            "rule_days": "",
        },
    )
    assert 'id="segment-count">1<' in preview.content.decode()
    bad = marketer_client.post(
        reverse("segment_preview"),
        {
            "match": "all",
            "rule_field": "attribute:balance",
            "rule_op": "gt",
            "rule_value": "lots",
            "rule_days": "",
        },
    )
    assert "Rule 1: &#x27;lots&#x27; is not a number." in bad.content.decode()
    saved = marketer_client.post(
        reverse("segment_create"),
        {
            "name": "Owes",
            "match": "all",
            "rule_field": "attribute:balance",
            "rule_op": "gt",
            "rule_value": "0",
            "rule_days": "",
        },
    )
    assert saved.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition == {
        "match": "all",
        "rules": [{"field": "attribute", "key": "balance", "op": "gt", "value": 0}],
    }
    listing = marketer_client.get(reverse("segment_list")).content.decode()
    assert "Owes" in listing and "balance greater than / after 0" in listing


def test_admin_defines_an_attribute_and_duplicates_are_refused(admin_client, workspace):
    assert (
        admin_client.post(
            reverse("attribute_list"), {"key": "plan", "label": "Plan", "type": "text"}
        ).status_code
        == 302
    )
    again = admin_client.post(reverse("attribute_list"), {"key": "plan", "label": "Plan", "type": "text"})
    assert again.status_code == 400 and "already exists" in again.content.decode()


def test_export_writes_formulas_as_text_and_keeps_phone_numbers(marketer_client, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="note", type="text")
    ContactFactory(
        workspace=workspace,
        first_name="=1+2",
        last_name="-2+3+cmd|' /C calc'!A0",
        phone="+447911123456",
        vulnerability_note="@SUM(1)",
        attributes={"note": "+HYPERLINK(1)"},
        addresses={"whatsapp": "+447911123456"},
    )
    response = marketer_client.get(reverse("contact_export"))
    row = next(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert row["first_name"] == "'=1+2" and row["last_name"] == "'-2+3+cmd|' /C calc'!A0"
    assert row["vulnerability_note"] == "'@SUM(1)" and row["note"] == "'+HYPERLINK(1)"
    assert row["phone"] == "+447911123456" and row["address_whatsapp"] == "+447911123456"
