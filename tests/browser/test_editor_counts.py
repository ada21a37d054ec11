"""Live counts on the canvas are pushed over the websocket: an enrolment advancing in the
engine updates the node's numbers within seconds, with no 2 s poll (the fallback poll runs
every 30 s and only while the socket is down)."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_counts_on_the_canvas_follow_the_engine_without_polling(login, marketer, workspace):
    from contacts.models import Contact
    from cpaas.tenancy import Actor
    from journeys.services import journey_create, journey_publish, journey_start
    from tests.journeys.conftest import linear

    actor = Actor.for_user(marketer)
    g = linear(("trigger.manual", {}), ("wait.delay", {"seconds": 3600}))
    journey = journey_create(workspace=workspace, actor=actor, name="Counted", graph=g)
    journey_publish(journey=journey, actor=actor)
    contact = Contact.objects.create(workspace=workspace, first_name="Cora", phone="+447700900777")
    page = login(marketer, f"/journeys/editor/{journey.pk}/")
    expect(page.locator("body[data-editor-ready]")).to_be_attached()
    # the socket is up and the one fetch on connect is done
    expect(page.locator("html[data-live=connected]")).to_be_attached(timeout=10000)
    expect(page.locator("body[data-counts-fetched]")).to_be_attached(timeout=10000)
    page.wait_for_timeout(800)
    fetched = int(page.locator("body").get_attribute("data-counts-fetched"))
    wait_counts = page.locator('#canvas [model-id="n1"] [joint-selector="counts"]')
    expect(wait_counts).not_to_contain_text("1 entered")

    # when a contact starts and the engine moves it to the wait
    journey_start(journey=journey, actor=actor, contact_ids=[contact.pk])
    # then the wait's numbers change within seconds (pushed: the fallback poll is 30 s)
    expect(wait_counts).to_contain_text("1 entered · 1 waiting", timeout=8000)
    expect(page.locator('#canvas [model-id="trigger"] [joint-selector="counts"]')).to_contain_text(
        "1 entered"
    )
    # and only a handful of fetches happened: one per burst of pushes, never a steady poll
    page.wait_for_timeout(2500)
    after = int(page.locator("body").get_attribute("data-counts-fetched"))
    assert 1 <= after - fetched <= 4
