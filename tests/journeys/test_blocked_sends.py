"""A send blocked or deferred by consent says so in words, with its rule, wherever the contact's
path is shown (issue 16 items 2 and 5): the step, the enrolment's end, the contact page."""

import pytest
from django.urls import reverse

from consent.wording import decision_headline
from journeys.models import Enrollment, Step
from tests.factories import ContactFactory
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db

PROMO = ("message.send", {"channel": "whatsapp", "purpose": "marketing", "template": {"en": "20% off today"}})


def test_a_contact_whose_only_message_was_blocked_shows_why_not_end_of_path(
    workspace, publish, fire, engine, admin_client
):
    # given a marketing journey whose failed exit ends the journey, and a contact with no opt-in
    contact = ContactFactory(workspace=workspace, first_name="Bo", phone="+447911123450")
    g = linear(("trigger.event", {"event": "signup"}), PROMO, end=False)
    g["nodes"]["n1"]["exits"] = {"next": None, "failed": None}
    publish(g)

    # when the contact enters it
    fire(contact, "signup")
    engine()

    # then the enrolment says the send was blocked, by which rule, and why
    e = Enrollment.objects.get(contact=contact)
    assert e.status == "completed"
    assert e.end_reason.startswith("Not sent: No marketing opt-in on WhatsApp.")
    assert "end of path after the 'failed' exit" in e.end_reason
    step = Step.objects.get(enrollment=e, node="n1")
    assert (step.exit, step.detail["rule"]) == ("failed", "consent.missing")

    # and the contact page shows it, not "Completed · end of path" alone
    page = admin_client.get(reverse("contact_detail", args=[contact.pk])).content.decode()
    assert "Not sent: No marketing opt-in on WhatsApp" in page


def test_every_consent_rule_has_a_headline_in_words():
    assert decision_headline("consent.missing", purpose="marketing", channel_kind="whatsapp") == (
        "No marketing opt-in on WhatsApp"
    )
    rules = ["consent.opted_out", "consent.pending", "consent.expired", "consent.suppressed", "suppression",
             "address.missing", "whatsapp.window", "quiet_hours", "frequency_cap", "vulnerability"]  # fmt: skip
    for rule in rules:
        words = decision_headline(rule, purpose="marketing", channel_kind="sms")
        assert words and "." not in words and "_" not in words  # words, not the rule's code
