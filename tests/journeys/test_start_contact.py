"""Start one contact from the journey page and the API (issue 16 item 4); a contact the entry
rules would skip gets a clear answer instead of a run that enrols nobody."""

import pytest
from django.urls import reverse

from journeys.models import Enrollment
from tests.conftest import client_for
from tests.factories import ContactFactory
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine(engine):
    """The engine's round with the audience runs first (a start is enrolled by them)."""
    from journeys.engine import audience_step

    def _run():
        while audience_step():
            pass
        return engine()

    return _run


WAIT = linear(("trigger.manual", {}), ("wait.delay", {"seconds": 86400}))


def test_the_journey_page_finds_a_contact_and_starts_them(publish, marketer, workspace, engine):
    journey = publish(WAIT, name="Welcome")
    ada = ContactFactory(workspace=workspace, first_name="Ada", last_name="Byron", phone="+447911000333")
    ContactFactory(workspace=workspace, first_name="Ben")
    client = client_for(marketer)
    page = client.get(reverse("journey_detail", args=[journey.pk])).content.decode()
    assert "Start for this contact" in page
    found = client.get(
        reverse("journey_contact_search", args=[journey.pk]), {"q": "07911 000333"}
    ).content.decode()
    assert f'value="{ada.pk}"' in found and "Ada Byron" in found and "Ben" not in found

    response = client.post(reverse("journey_start", args=[journey.pk]), {"contact": ada.pk}, follow=True)
    assert "Starting Ada Byron" in response.content.decode()
    engine()
    assert Enrollment.objects.get(contact=ada).status == "waiting"

    # again: a clear answer, not a silent skip
    response = client.post(reverse("journey_start", args=[journey.pk]), {"contact": ada.pk}, follow=True)
    assert (
        "Ada Byron is already in this journey (waiting at &#x27;Wait 1 day&#x27;" in response.content.decode()
    )


def test_the_api_starts_one_contact_and_says_why_not(publish, api, workspace, engine):
    journey = publish(WAIT, name="Welcome")
    ada = ContactFactory(workspace=workspace, first_name="Ada", last_name="Lee", phone="+447911000333")
    url = f"/api/v1/journeys/{journey.pk}/start/"
    first = api.post(url, {"contact": {"phone": "+447911000333"}}, format="json")
    assert first.status_code == 202 and first.json()["total"] == 1
    engine()
    again = api.post(url, {"contact": {"id": ada.pk}}, format="json")
    assert again.status_code == 400
    assert "Ada Lee is already in this journey (waiting at 'Wait 1 day' since" in str(again.json())


def test_re_entry_off_is_said_in_words(publish, api, workspace, engine):
    journey = publish(linear(("trigger.manual", {})), name="Once")  # trigger -> exit
    ada = ContactFactory(workspace=workspace, first_name="Ada")
    assert (
        api.post(
            f"/api/v1/journeys/{journey.pk}/start/", {"contact": {"id": ada.pk}}, format="json"
        ).status_code
        == 202
    )
    engine()
    again = api.post(f"/api/v1/journeys/{journey.pk}/start/", {"contact": {"id": ada.pk}}, format="json")
    assert again.status_code == 400 and "re-entry is off" in str(again.json())
