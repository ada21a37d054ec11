"""One batch call with a content per contact (personalised journey texts): each contact gets
their own text, consent is asked for every one, one insert whatever the number of texts."""

import pytest
from django.core.exceptions import ValidationError

from channels_app.models import Message
from channels_app.services.messages import message_send_batch
from tests.factories import ContactFactory

from .conftest import at

pytestmark = pytest.mark.django_db


def test_each_contact_gets_their_own_text_in_one_call(workspace, django_assert_max_num_queries):
    people = [ContactFactory(workspace=workspace, first_name=n) for n in ("Ada", "Bo", "Cy")]
    with django_assert_max_num_queries(16):
        messages, skipped = message_send_batch(
            workspace=workspace, contacts=people, channel="sms", now=at(0), origin="journey", journey_id=7,
            contents=[{"text": f"Hi {p.first_name}"} for p in people],
        )  # fmt: skip
    assert not skipped
    got = {
        m.contact_id: (m.text, m.status, m.journey_id)
        for m in Message.objects.filter(pk__in=[m.pk for m in messages])
    }
    assert got == {p.pk: (f"Hi {p.first_name}", "queued", 7) for p in people}


def test_consent_is_checked_for_every_personalised_message(workspace):
    from consent.services.suppression import suppression_add
    from cpaas.tenancy import Actor

    allowed, opted_out = ContactFactory(workspace=workspace), ContactFactory(workspace=workspace)
    suppression_add(workspace=workspace, actor=Actor.system("test"), channel_kind="sms", address=opted_out.phone,
                    reason="complaint", note="asked by phone", at=at(-10))  # fmt: skip
    messages, _ = message_send_batch(
        workspace=workspace, contacts=[allowed, opted_out], channel="sms", now=at(0),
        contents=[{"text": "one"}, {"text": "two"}],
    )  # fmt: skip
    statuses = {m.contact_id: m.status for m in messages}
    assert statuses == {allowed.pk: "queued", opted_out.pk: "blocked"}


def test_a_bad_personal_content_skips_that_contact_only(workspace):
    people = [ContactFactory(workspace=workspace) for _ in range(2)]
    messages, skipped = message_send_batch(
        workspace=workspace,
        contacts=people,
        channel="sms",
        now=at(0),
        contents=[{"text": "fine"}, {"text": ""}],
    )
    assert [m.contact_id for m in messages] == [people[0].pk]
    assert set(skipped) == {people[1].pk}
    # a shared content that cannot be sent still refuses the whole batch
    with pytest.raises(ValidationError):
        message_send_batch(
            workspace=workspace, contacts=people, channel="sms", now=at(0), content={"text": ""}
        )


def test_a_fallback_keeps_the_journey_of_the_first_attempt(workspace):
    # free-form WhatsApp outside the 24-hour window is blocked: the chain moves on to SMS
    person = ContactFactory(workspace=workspace)
    messages, _ = message_send_batch(
        workspace=workspace, contacts=[person], channel="whatsapp", fallback=["sms"], now=at(0),
        origin="journey", origin_ref="journey:9/m", journey_id=9, contents=[{"text": "Hello"}],
    )  # fmt: skip
    assert messages[0].status == "blocked"
    sms = Message.objects.get(fallback_of=messages[0])
    assert (sms.kind, sms.journey_id) == ("sms", 9)
