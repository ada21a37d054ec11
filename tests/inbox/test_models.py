"""The inbox's own invariants: one unresolved conversation per contact, business hours."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from inbox.models import Conversation, InboxSettings, Queue, validate_business_hours
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _conversation(workspace, contact, queue, number, status=Conversation.Status.OPEN):
    now = timezone.now()
    return Conversation.objects.create(
        workspace=workspace,
        number=number,
        contact=contact,
        queue=queue,
        status=status,
        opened_at=now,
        created_at=now,
    )


def test_a_contact_has_at_most_one_unresolved_conversation(workspace):
    contact = ContactFactory(workspace=workspace)
    queue = Queue.objects.create(workspace=workspace, name="support")
    _conversation(workspace, contact, queue, 1, Conversation.Status.RESOLVED)
    _conversation(workspace, contact, queue, 2, Conversation.Status.RESOLVED)
    _conversation(workspace, contact, queue, 3, Conversation.Status.SNOOZED)
    with pytest.raises(IntegrityError), transaction.atomic():
        _conversation(workspace, contact, queue, 4, Conversation.Status.OPEN)


def test_business_hours_are_checked_with_the_day_and_interval_named():
    validate_business_hours({"mon": [["09:00", "17:30"]], "sat": [], "sun": [["00:00", "24:00"]]})
    for bad, words in [
        ({"monday": []}, "Unknown weekday 'monday'"),
        ({"tue": [["9:00", "17:00"]]}, "tue:"),
        ({"wed": [["18:00", "09:00"]]}, "wed: 18:00–09:00 ends before it starts"),
        ([], "An object of weekdays"),
    ]:
        with pytest.raises(ValidationError) as caught:
            validate_business_hours(bad)
        assert words in caught.value.messages[0]


def test_no_business_hours_means_open_around_the_clock(workspace):
    settings = InboxSettings(workspace=workspace)
    assert settings.intervals(6) == [(dt.time(0, 0), None)]
    settings.business_hours = {"mon": [["13:00", "17:00"], ["09:00", "12:00"]]}
    assert settings.intervals(0) == [(dt.time(9), dt.time(12)), (dt.time(13), dt.time(17))]
    assert settings.intervals(1) == []
