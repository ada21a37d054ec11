import pytest

from journeys.models import Journey
from journeys.services import journey_from_template
from journeys.templates_catalogue import TEMPLATES, template_graph
from journeys.validation import validate_graph

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_is_a_valid_graph_that_publishes(workspace, actor, key):
    spec = template_graph(key, workspace=workspace)
    assert validate_graph(spec["graph"], workspace=workspace) == []
    journey = journey_from_template(workspace=workspace, actor=actor, key=key, publish=True)
    assert journey.status == Journey.Status.LIVE and journey.template_key == key


def test_the_nine_journeys_of_the_seeds_are_there():
    assert len(TEMPLATES) == 9
