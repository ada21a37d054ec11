"""The editor's test-run panel (issue 16 items 1-3): a phone made for the panel, the status that
follows the contact step by step and says when it has finished, a send blocked by consent in
words with its rule, a contact found by search or made in place."""

import pytest
from django.urls import reverse

from channels_app.models import Message
from contacts.models import Contact
from journeys.services import journey_create
from tests.conftest import client_for
from tests.factories import ContactFactory
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db

PROMO = (
    "message.send",
    {"channel": "sms", "purpose": "marketing", "template": {"en": "20% off, {{contact.first_name}}"}},
)


@pytest.fixture(autouse=True)
def no_quiet_hours(workspace):
    """Marketing keeps quiet hours (21:00-08:00): without this the outcome would follow the clock."""
    import datetime as dt

    from consent.models import ConsentPolicy

    ConsentPolicy.objects.update_or_create(
        workspace=workspace, defaults={"quiet_start": dt.time(0), "quiet_end": dt.time(0)}
    )


@pytest.fixture
def promo(workspace, actor):
    g = linear(("trigger.manual", {}), PROMO, end=False)
    g["nodes"]["n1"]["exits"] = {"next": None, "failed": None}
    return journey_create(workspace=workspace, actor=actor, name="Promo", graph=g)


def act(user, journey, contact, action="path", **extra):
    return client_for(user).post(reverse("editor_test_start", args=[journey.pk]),
                                 {"action": action, "contact": contact.pk, **extra})  # fmt: skip


def test_the_panel_embeds_a_phone_not_the_whole_simulator_page(promo, marketer):
    html = client_for(marketer).get(reverse("editor_test_start", args=[promo.pk])).content.decode()
    assert "<iframe" not in html and "<nav" not in html
    assert 'id="test-phone"' in html and 'id="test-search"' in html


def test_the_status_follows_the_contact_and_a_blocked_send_says_why(promo, marketer, engine):
    contact = ContactFactory(workspace=promo.workspace, first_name="Bo", phone="+447911123450")
    started = act(marketer, promo, contact, "start").json()
    assert started["state"] == "Running: at 'Start manually'." or started["state"].startswith("Running")
    assert started["finished"] is False

    engine()
    data = act(marketer, promo, contact).json()
    # finished shown as finished, with why: not "At start (active)"
    assert data["finished"] is True
    assert data["state"].startswith("Finished: Not sent: No marketing opt-in on SMS.")
    blocked = [s for s in data["steps"] if s["exit"] == "failed"]
    assert blocked and blocked[0]["rule"] == "consent.missing"
    assert "No marketing opt-in on SMS" in blocked[0]["reason"]
    # and the phone shows the blocked message with its rule and reason
    assert "No marketing opt-in on SMS" in data["phone"] and "consent.missing" in data["phone"]
    # not a test contact made here: the tester is sent to an admin, not offered an opt-in
    assert "Only an admin changes this contact" in data["phone"]
    assert act(marketer, promo, contact, "opt_in", channel="sms", purpose="marketing").status_code == 400


def test_a_test_contact_made_in_the_panel_can_be_opted_in_and_the_message_arrives(promo, marketer, engine):
    url = reverse("editor_test_contact_new", args=[promo.pk])
    response = client_for(marketer).post(
        url, {"name": "Tia Test", "phone": "07911 123999"}, HTTP_HX_REQUEST="true"
    )
    contact = Contact.objects.get(first_name="Tia", last_name="Test")
    assert contact.phone == "+447911123999"  # national format, the workspace's country
    assert '"test-contact"' in response["HX-Trigger"] and str(contact.pk) in response["HX-Trigger"]

    act(marketer, promo, contact, "start")
    engine()
    data = act(marketer, promo, contact).json()
    assert "Record a test opt-in: marketing on SMS" in data["phone"]
    assert act(marketer, promo, contact, "opt_in", channel="sms", purpose="marketing").status_code == 200
    assert "Consent allows it now" in act(marketer, promo, contact).json()["phone"]

    act(marketer, promo, contact, "restart")
    engine()
    data = act(marketer, promo, contact).json()
    assert data["finished"] and data["state"] == "Finished: end of path"
    sent = Message.objects.filter(contact=contact).exclude(status="blocked").get()
    assert f'id="bubble-{sent.pk}"' in data["phone"] and "20% off, Tia" in data["phone"]


def test_a_new_test_contact_with_errors_keeps_what_was_typed(promo, marketer):
    url = reverse("editor_test_contact_new", args=[promo.pk])
    html = client_for(marketer).post(url, {"name": "Tia Test", "phone": "0791", "email": "tia@"},
                                     HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert not Contact.objects.filter(first_name="Tia").exists()
    assert 'value="Tia Test"' in html and 'value="0791"' in html and 'value="tia@"' in html
    assert 'class="error"' in html
    html = client_for(marketer).post(url, {"name": "", "phone": ""}, HTTP_HX_REQUEST="true").content.decode()
    assert "Give the test contact a name." in html


def test_the_picker_searches_by_name_phone_or_email(promo, marketer, workspace):
    ContactFactory(workspace=workspace, first_name="Ama", last_name="Owusu", phone="+447911000111",
                   email="ama@example.com")  # fmt: skip
    ContactFactory(workspace=workspace, first_name="Ben", phone="+447911000222", email="ben@example.com")
    url = reverse("editor_test_contacts", args=[promo.pk])
    for q in ("owusu", "07911 000111", "ama@example", "+447911000111"):
        html = client_for(marketer).get(url, {"q": q}).content.decode()
        assert "Ama Owusu" in html and "Ben" not in html, q
    assert "No contact matches" in client_for(marketer).get(url, {"q": "zzz"}).content.decode()
