"""Issue 11 item 1, beyond journeys: every service that locks its row and re-reads it leaves the
caller's own object holding what it changed (cpaas.locks.lock_refresh), so a view that goes on
using the object it read at the start of the request never acts on the state from before."""

import datetime as dt

import pytest
from django.db import transaction

from contacts import imports
from cpaas.locks import lock_refresh
from cpaas.models import Membership
from cpaas.services import membership_update
from cpaas.tenancy import Actor
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_lock_refresh_reloads_the_callers_object_and_keeps_unchanged_relations(marketer, workspace):
    membership = Membership.objects.select_related("workspace").get(user=marketer)
    Membership.objects.filter(pk=membership.pk).update(role="viewer")
    with transaction.atomic():
        assert lock_refresh(membership) is membership
    assert membership.role == "viewer"
    assert membership.workspace is not None and Membership.workspace.is_cached(membership)


def test_membership_update_changes_the_callers_membership(admin_user, marketer):
    membership = Membership.objects.get(user=marketer)
    membership_update(membership=membership, actor=Actor.for_user(admin_user), role="viewer", is_active=True)
    assert membership.role == "viewer"


def test_verification_check_and_resend_change_the_callers_verification(workspace):
    from channels_app.services.verify import verification_check, verification_resend, verification_start

    contact = ContactFactory(workspace=workspace, phone="+447911123456")
    verification = verification_start(workspace=workspace, contact=contact, channels=["sms"], now=T0)
    verification_check(verification=verification, code="000000" if verification.code_for_tests != "000000"
                       else "111111", now=T0)  # fmt: skip
    assert verification.attempts == 1
    sends = verification.sends
    verification_resend(verification=verification, now=T0 + dt.timedelta(seconds=60))
    assert verification.sends == sends + 1
    verification_check(verification=verification, code=verification.code_for_tests, now=T0)
    assert verification.status == "approved" and verification.attempts == 2


def test_contact_import_start_changes_the_callers_import(workspace):
    contact_import = imports.import_upload(
        workspace=workspace, actor=Actor.system(), filename="c.csv",
        content=b"phone\n+447911123456\n", encoding="utf-8",
    )  # fmt: skip
    imports.import_start(contact_import=contact_import, actor=Actor.system(), mapping={"phone": "phone"})
    assert contact_import.status != "uploaded"


def test_enrollment_cancel_changes_the_callers_enrollment(workspace, admin_user):
    from journeys.engine.runner import run_pending
    from journeys.models import Enrollment
    from journeys.services import enrollment_cancel, journey_create, journey_publish, journey_start
    from tests.journeys.conftest import linear

    actor = Actor.for_user(admin_user)
    journey = journey_create(workspace=workspace, actor=actor, name="J", graph=linear(
        ("trigger.manual", {}), ("wait.delay", {"seconds": 3600})))  # fmt: skip
    journey_publish(journey=journey, actor=actor)
    journey_start(journey=journey, actor=actor, contact_ids=[ContactFactory(workspace=workspace).pk])
    from journeys.engine.audience import audience_step

    while audience_step():
        pass
    run_pending(now=journey.updated_at)
    enrollment = Enrollment.objects.get()
    enrollment_cancel(enrollment=enrollment, actor=actor, reason="asked")
    assert enrollment.status == "cancelled" and enrollment.end_reason == "asked"


def test_consent_import_start_changes_the_callers_import(workspace):
    from consent.services.imports import consent_import_start, consent_import_upload
    from tests.consent.test_imports import GOOD

    consent_import = consent_import_upload(
        workspace=workspace, actor=Actor.system(), filename="c.csv", content=GOOD.encode()
    )
    consent_import_start(consent_import=consent_import, actor=Actor.system())
    assert consent_import.status != "uploaded"
