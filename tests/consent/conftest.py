"""Shared data for the consent tests: a contact in London, an actor, fixed clock times."""

import datetime as dt

import pytest

from consent import services
from cpaas.tenancy import Actor
from tests.factories import ContactFactory

# Monday 4 May 2026, 12:00 UTC = 13:00 in London (BST).
NOON = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def actor(admin_user):
    return Actor.for_user(admin_user)


@pytest.fixture
def contact(workspace):
    return ContactFactory(
        workspace=workspace, timezone="Europe/London", phone="+447911123456", email="ama@example.com"
    )


def opt_in(contact, channel="sms", purpose="marketing", at=NOON, actor=None, **kwargs):
    """Record a web-form opt-in with evidence (the common case in these tests)."""
    kwargs.setdefault("evidence", {"notice_text": "Send me offers by text", "notice_version": "v3"})
    return services.consent_change(
        contact=contact,
        channel_kind=channel,
        purpose=purpose,
        status="opted_in",
        actor=actor or Actor.system("test"),
        method="web_form",
        reason="Signed up on the website",
        at=at,
        **kwargs,
    )


def change(contact, status, channel="sms", purpose="marketing", at=NOON, method="agent_verbal", **kwargs):
    kwargs.setdefault("reason", "Customer said so on the phone")
    return services.consent_change(
        contact=contact,
        channel_kind=channel,
        purpose=purpose,
        status=status,
        actor=Actor.system("test"),
        method=method,
        at=at,
        **kwargs,
    )


def erase_all_consent_events() -> None:
    """For tests that commit (browser tests): the database refuses to delete consent events
    outside GDPR erasure, so the test database's flush would fail; open the erasure gate for
    each contact with events and delete them, as erasure does."""
    from django.db import transaction

    from consent.models import ConsentEvent, ErasureGate

    with transaction.atomic():
        contact_ids = set(ConsentEvent.objects.values_list("contact_id", flat=True))
        ErasureGate.objects.bulk_create([ErasureGate(contact_id=pk) for pk in contact_ids])
        for pk in contact_ids:
            ConsentEvent.objects.all()._erase_contact_events(pk)
        ErasureGate.objects.all().delete()
