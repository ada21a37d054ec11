"""Issue 11 item 19: schemathesis generates requests from the published OpenAPI schema for every
API operation and checks each answer: never a 5xx, and status, content type, headers and body as
the schema documents them (errors included). Examples are bounded and derandomized, so a run is
repeatable and short."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 10
# What an answer must be. Left out: whether the API accepts every schema-valid request and refuses
# every schema-invalid one. A phone number or an id of another workspace is a string or an integer
# to the schema and a documented 400/404 to the API; DRF reads 1 as "1" for text fields.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The schema as the server publishes it, served by the WSGI application in this process.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Django closes connections when a request ends; the WSGI app runs on the test's own
    connection (its transaction), so keep it open, as Django's test client does."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, api_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_token.key}"}, checks=CHECKS)


@pytest.fixture
def rows(workspace, admin_user):
    """Real rows with the values random ids rarely reach: blank optional text, NULL links
    (a first attempt without fallback), a fallback message, a verification, a live journey."""
    from django.utils import timezone

    from channels_app.services.dispatch import dispatch_pending
    from channels_app.services.messages import message_send
    from channels_app.services.verify import verification_start
    from contacts.services import event_record
    from cpaas.tenancy import Actor
    from journeys.services import journey_create, journey_publish
    from tests.factories import ContactFactory
    from tests.journeys.conftest import linear

    now = timezone.now()
    contact = ContactFactory(workspace=workspace, first_name="", email="", language="", preferred_channel="",
                             phone="+447911123456", timezone="")  # fmt: skip
    message = message_send(workspace=workspace, contact=contact, channel="sms", content={"text": "Hi"},
                           fallback=["email"], now=now)  # fmt: skip
    dispatch_pending(now=now)
    event_record(workspace=workspace, contact=contact, name="signup", properties={}, now=now)
    verification = verification_start(workspace=workspace, contact=contact, channels=["sms"], now=now)
    actor = Actor.for_user(admin_user)
    journey = journey_create(workspace=workspace, actor=actor, name="J", graph=linear(
        ("trigger.event", {"event": "signup"}), ("message.send", {"template": {"en": "Hi"}})))  # fmt: skip
    journey_publish(journey=journey, actor=actor)
    return {"contact_id": contact.pk, "message_id": message.pk, "verification_id": verification.pk,
            "journey_id": journey.pk}  # fmt: skip


READS = [
    "/api/v1/contacts/",
    "/api/v1/contacts/{contact_id}/",
    "/api/v1/contacts/{contact_id}/events/",
    "/api/v1/events/",
    "/api/v1/messages/",
    "/api/v1/messages/{message_id}/",
    "/api/v1/verifications/{verification_id}/",
    "/api/v1/channels/",
    "/api/v1/journeys/",
    "/api/v1/journeys/{journey_id}/",
    "/api/v1/journeys/{journey_id}/versions/",
    "/api/v1/journeys/{journey_id}/draft/",
    "/api/v1/journeys/{journey_id}/funnel/",
    "/api/v1/consent/contacts/{contact_id}/",
    "/api/v1/consent/events/",
    "/api/v1/analytics/dashboard/",
    "/api/v1/analytics/health/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", READS)
def test_real_rows_answer_as_documented(path, rows, api_token):
    operation = schema[path]["GET"]
    params = {name: value for name, value in rows.items() if "{" + name + "}" in path}
    case = operation.Case(path_parameters=params)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {api_token.key}"}, checks=CHECKS)
    assert response.status_code == 200
