"""A marketer opens a live journey's page, sees its numbers and pauses it."""

import pytest

from cpaas.tenancy import Actor
from journeys.services import journey_from_template

pytestmark = pytest.mark.django_db(transaction=True)


def test_marketer_pauses_a_live_journey_from_its_page(login, workspace, marketer):
    journey = journey_from_template(
        workspace=workspace, actor=Actor.for_user(marketer), key="abandoned_cart", publish=True
    )
    page = login(marketer, "/journeys/")
    page.get_by_role("link", name="Abandoned cart").click()
    page.wait_for_selector("#node-counters")
    assert page.locator("#journey-status").inner_text() == "Live"
    assert "live version v1" in page.content()
    page.get_by_role("button", name="Pause").click()
    page.wait_for_selector("text=Paused: nobody enters")
    assert page.locator("#journey-status").inner_text() == "Paused"
    journey.refresh_from_db()
    assert journey.status == "paused"
