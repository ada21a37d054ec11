"""The contact panel (issue 13 item 6): what an agent sees beside a conversation, the fields
they may change, the vulnerability flag; reached only through a conversation they can see."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from cpaas.models import AuditEntry
from inbox.models import Entry
from journeys.models import PromiseToPay
from tests.conftest import _member, client_for
from tests.factories import AttributeDefinitionFactory, ContactFactory, EventFactory, TagFactory
from tests.inbox.panel_helpers import conversation, queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(workspace):
    c = ContactFactory(
        workspace=workspace, first_name="Ada", last_name="Lovelace", phone="+447911123456",
        email="ada@example.com", timezone="Europe/London", attributes={"balance": 240},
    )  # fmt: skip
    AttributeDefinitionFactory(workspace=workspace, key="balance", label="Balance due", type="number")
    c.tags.add(TagFactory(workspace=workspace, name="arrears"))
    return c


@pytest.fixture
def conv(workspace, contact, agent):
    return conversation(workspace, contact, queue(workspace, members=[agent]))


def url(conv, name="inbox_contact_panel"):
    return reverse(name, kwargs={"number": conv.number})


def test_the_panel_shows_the_customer(workspace, contact, conv, agent):
    EventFactory(contact=contact, name="payment_missed", occurred_at=timezone.now())
    today = timezone.now().date()
    for status, due in (("paid", -20), ("broken", -10), ("promised", -2), ("promised", 5)):
        PromiseToPay.objects.create(workspace=workspace, contact=contact, amount="50.00", currency="GBP",
                                    due_date=today + dt.timedelta(days=due), status=status,
                                    created_at=timezone.now())  # fmt: skip
    html = client_for(agent).get(url(conv)).content.decode()
    assert "Ada Lovelace" in html and "+447911123456" in html and "ada@example.com" in html
    assert "Balance due" in html and "240" in html and "arrears" in html
    assert "payment_missed" in html
    assert html.count("50.00 GBP") == 4
    for state in ("kept", "broken", "overdue", "promised"):
        assert f">{state}</span>" in html
    assert 'id="panel-consent-matrix"' in html and 'data-channel="sms"' in html
    assert "Call attempts in the last 168 h: <b>0 of 7</b>" in html


def test_the_panel_shows_journeys_with_the_current_node(workspace, contact, conv, agent, admin_user):
    from cpaas.tenancy import Actor
    from journeys.engine import run_pending
    from journeys.services import journey_create, journey_publish
    from tests.journeys.conftest import graph, node

    g = graph(
        trigger=node("trigger.manual", {}, next="wait"),
        wait=node("wait.delay", {"seconds": 3600}, next=None),
    )
    g["nodes"]["wait"]["label"] = "Wait an hour"
    actor = Actor.for_user(admin_user)
    journey = journey_create(workspace=workspace, actor=actor, name="Gentle reminders", graph=g)
    journey_publish(journey=journey, actor=actor)
    from journeys.engine.enroll import enroll_one

    journey.refresh_from_db()
    enroll_one(journey=journey, contact_id=contact.pk, now=timezone.now())
    run_pending(now=timezone.now())
    html = client_for(agent).get(url(conv)).content.decode()
    assert '<b>Gentle reminders</b> · Waiting at <span class="mono">Wait an hour</span>' in html


def test_an_agent_reaches_a_contact_only_through_a_conversation_they_see(
    workspace, other_workspace, contact, conv, agent
):
    other_agent = _member(workspace, "agent", "olga-other-queue")
    queue(workspace, name="billing", members=[other_agent])
    assert client_for(other_agent).get(url(conv)).status_code == 404  # another queue's
    assert client_for(agent).get(reverse("inbox_contact_panel", kwargs={"number": 999999})).status_code == 404
    # the same number in another workspace
    b_agent = _member(other_workspace, "agent", "bea-b")
    b_contact = ContactFactory(workspace=other_workspace)
    conversation(
        other_workspace, b_contact, queue(other_workspace, members=[b_agent]), number=conv.number + 1
    )
    assert client_for(b_agent).get(url(conv)).status_code == 404
    # every write too: nothing changes
    for name, data in (
        ("inbox_contact_edit", {"first_name": "Mallory"}),
        ("inbox_contact_vulnerability", {"vulnerable": "on", "vulnerability_note": "x"}),
        ("inbox_promise_record", {"due_date": timezone.now().date().isoformat()}),
    ):
        assert client_for(other_agent).post(url(conv, name), data).status_code == 404
    contact.refresh_from_db()
    assert (contact.first_name, contact.is_vulnerable) == ("Ada", False)
    assert not PromiseToPay.objects.exists()


def test_the_assignee_sees_it_even_outside_the_queue(workspace, contact):
    q = queue(workspace, name="billing")
    assignee = _member(workspace, "agent", "amy-assignee")
    conv = conversation(workspace, contact, q, assignee=assignee)
    assert client_for(assignee).get(url(conv)).status_code == 200


@pytest.mark.parametrize("role", ["marketer", "viewer"])
def test_roles_without_the_inbox_get_403(workspace, conv, role):
    user = _member(workspace, role, f"r-{role}")
    assert client_for(user).get(url(conv)).status_code == 403


def test_an_agent_edits_the_fields_they_may_change(workspace, contact, conv, agent):
    response = client_for(agent).post(
        url(conv, "inbox_contact_edit"),
        {"first_name": "Ada", "last_name": "King", "email": "ada.king@example.com", "language": "en",
         "timezone": "Europe/Paris", "tags": "arrears, callback", "attr_balance": "180",
         "phone": "+447700900999", "external_id": "hijack"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.last_name, contact.email, contact.timezone) == (
        "King",
        "ada.king@example.com",
        "Europe/Paris",
    )
    assert contact.attributes == {"balance": 180}
    assert sorted(t.name for t in contact.tags.all()) == ["arrears", "callback"]
    assert (contact.phone, contact.external_id) == ("+447911123456", None)  # not an agent's to change
    assert AuditEntry.objects.filter(action="contacts.contact.updated", actor_user=agent).exists()
    assert "callback" in response.content.decode()


def test_a_bad_edit_shows_the_error_beside_the_field_and_writes_nothing(workspace, contact, conv, agent):
    response = client_for(agent).post(
        url(conv, "inbox_contact_edit"),
        {"first_name": "Ada", "email": "not-an-email", "timezone": "Mars/Olympus", "attr_balance": "lots"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "&#x27;not-an-email&#x27; is not an email address." in html
    assert "is not an IANA time zone" in html
    assert 'id="id_attr_balance-error"' in html
    assert Contact.objects.get(pk=contact.pk).email == "ada@example.com"
    # without htmx the page answers 400
    assert client_for(agent).post(url(conv, "inbox_contact_edit"), {"email": "x"}).status_code == 400


def test_an_agent_flags_a_vulnerable_customer_with_a_note(workspace, contact, conv, agent, admin_user):
    c = client_for(agent)
    # a note is required
    html = c.post(url(conv, "inbox_contact_vulnerability"), {"vulnerable": "on", "vulnerability_note": " "},
                  HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert "Say why: what the customer told you or what you noticed." in html
    assert not Contact.objects.get(pk=contact.pk).is_vulnerable
    c.post(url(conv, "inbox_contact_vulnerability"),
           {"vulnerable": "on", "vulnerability_note": "Recently bereaved, asked for time"})  # fmt: skip
    contact.refresh_from_db()
    assert contact.is_vulnerable and contact.vulnerability_note == "Recently bereaved, asked for time"
    audit = AuditEntry.objects.get(action="contacts.vulnerability.flagged")
    assert audit.actor_user == agent and audit.data["note"] == "Recently bereaved, asked for time"
    entry = Entry.objects.get(conversation=conv, kind="note")
    assert entry.author == agent and "Recently bereaved" in entry.body
    html = c.get(url(conv)).content.decode()
    assert 'id="vulnerable-badge"' in html and "Recently bereaved" in html
    # the consent decision now keeps automated collections away from them
    from consent.services import check

    midday = timezone.now().replace(hour=12, minute=0)  # outside collections' quiet hours (21:00-08:00)
    assert check(contact, "sms", "collections", midday).rule == "vulnerability"
    # an agent cannot clear it; a supervisor can, with a note
    html = c.post(url(conv, "inbox_contact_vulnerability"), {"vulnerability_note": "better now"},
                  HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert "Only a supervisor can clear the vulnerability flag." in html
    assert Contact.objects.get(pk=contact.pk).is_vulnerable
    client_for(admin_user).post(
        url(conv, "inbox_contact_vulnerability"), {"vulnerability_note": "Reviewed by team lead"}
    )
    assert not Contact.objects.get(pk=contact.pk).is_vulnerable
    assert AuditEntry.objects.filter(action="contacts.vulnerability.cleared", actor_user=admin_user).exists()


def test_the_panel_costs_a_fixed_number_of_queries(
    workspace, contact, conv, agent, django_assert_max_num_queries
):
    c = client_for(agent)
    c.get(url(conv))  # warm the per-process caches (graphs)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        c.get(url(conv))
    for i in range(30):
        EventFactory(contact=contact, name=f"e{i}", occurred_at=timezone.now())
        PromiseToPay.objects.create(workspace=workspace, contact=contact, due_date=timezone.now().date(),
                                    created_at=timezone.now(), recorded_by=agent)  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        c.get(url(conv))
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
