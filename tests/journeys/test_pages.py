"""Journey pages: list, journey page (status, version, counters, publish with problems, pause),
the contact page's journeys section."""

import pytest
from django.urls import reverse
from django.utils import timezone

from journeys.services import draft_save
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db
SIGNUP = ("trigger.event", {"event": "signup"})


def test_list_and_journey_page_show_status_version_and_counters(
    marketer_client, publish, contact, fire, engine
):
    journey = publish(linear(SIGNUP, ("wait.delay", {"seconds": 60})), name="Welcome series")
    fire(contact, "signup")
    engine()
    body = marketer_client.get(reverse("journey_list")).content.decode()
    assert "Welcome series" in body and "v1" in body
    page = marketer_client.get(reverse("journey_detail", args=[journey.pk])).content.decode()
    assert "Live" in page and "live version v1" in page
    assert "<dt>Enrolled</dt><dd>1</dd>" in page
    assert "Waiting now" in page


def test_publish_refused_shows_the_problems_then_publishes(marketer_client, marketer, publish, workspace):
    from cpaas.tenancy import Actor

    journey = publish(linear(SIGNUP, ("wait.delay", {"seconds": 60})))
    broken = linear(SIGNUP, ("wait.delay", {"seconds": 60}))
    del broken["nodes"]["n1"]["exits"]["next"]
    draft_save(journey=journey, actor=Actor.for_user(marketer), graph=broken)
    r = marketer_client.post(reverse("journey_action", args=[journey.pk]), {"action": "publish"})
    assert r.status_code == 400
    assert "&#x27;Wait 1 min&#x27;: connect the &#x27;next&#x27; exit or end it." in r.content.decode()
    broken["nodes"]["n1"]["exits"]["next"] = "end"
    draft_save(journey=journey, actor=Actor.for_user(marketer), graph=broken)
    r = marketer_client.post(
        reverse("journey_action", args=[journey.pk]), {"action": "publish", "note": "fix"}
    )
    assert r.status_code == 302
    journey.refresh_from_db()
    assert journey.live_version.number == 2
    marketer_client.post(reverse("journey_action", args=[journey.pk]), {"action": "pause"})
    journey.refresh_from_db()
    assert journey.status == "paused"


def test_the_contact_page_lists_the_contacts_journeys_and_steps(admin_client, publish, contact, fire, engine):
    publish(linear(SIGNUP, ("wait.delay", {"seconds": 60})), name="Onboarding")
    fire(contact, "signup", now=timezone.now())
    engine()
    body = admin_client.get(reverse("contact_detail", args=[contact.pk])).content.decode()
    assert 'id="contact-journeys"' in body and "Onboarding" in body and "trigger.event" in body


def test_list_page_queries_do_not_grow_with_journeys(marketer_client, publish, django_assert_max_num_queries):
    for i in range(5):
        publish(linear(SIGNUP, ("wait.delay", {"seconds": 60})), name=f"J{i}")
    with django_assert_max_num_queries(12):
        marketer_client.get(reverse("journey_list"))


def test_start_a_csv_list_from_the_journey_page(marketer_client, publish, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from journeys.engine import audience_step
    from journeys.models import Enrollment
    from tests.factories import ContactFactory

    journey = publish(linear(("trigger.manual", {}), ("wait.delay", {"seconds": 60})))
    a = ContactFactory(workspace=workspace, phone="+447911000201")
    b = ContactFactory(workspace=workspace, phone="+447911000202")
    bad = SimpleUploadedFile("list.csv", b"phone\n07911 000201\n+447911000299\n", content_type="text/csv")
    r = marketer_client.post(reverse("journey_start", args=[journey.pk]), {"csv": bad}, follow=True)
    assert "line 3: no contact with phone +447911000299" in r.content.decode()
    good = SimpleUploadedFile("list.csv", b"phone\n07911 000201\n+447911000202\n", content_type="text/csv")
    r = marketer_client.post(reverse("journey_start", args=[journey.pk]), {"csv": good}, follow=True)
    assert "Starting 2 contacts from list.csv" in r.content.decode()
    while audience_step():
        pass
    assert set(Enrollment.objects.filter(journey=journey).values_list("contact_id", flat=True)) == {
        a.pk,
        b.pk,
    }
