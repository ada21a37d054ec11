"""Voice on Twilio: the call speaks the contact's language, a journey's question waits for keys
(DTMF) and the keyed answer resumes the journey, and call status callbacks become the Events
call.answered / call.no_answer / call.busy (once, whatever the order or repetition)."""

import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from channels_app.models import Message
from channels_app.services.dispatch import dispatch_pending
from channels_app.services.messages import message_send
from contacts.models import Event
from contacts.services import event_record
from cpaas.tenancy import Actor
from journeys.engine import run_pending
from journeys.models import Enrollment, Step
from journeys.services import journey_create, journey_publish
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node

from ...conftest import at, drain
from .fake import payload
from .test_twilio import fresh, signed_post

pytestmark = pytest.mark.django_db
S = Message.Status
PAYLOAD_SID = "CA42ed11f93dc08b952027ffbc406d0868"


def call(workspace, contact, content, **kw):
    message = message_send(
        workspace=workspace, contact=contact, channel="voice", content=content, now=at(0), **kw
    )
    drain(0)
    return fresh(message)


def twiml(fake) -> ET.Element:
    [request] = [r for r in fake.requests if r["path"].endswith("/Calls.json")]
    return ET.fromstring(request["form"]["Twiml"])


def status(client, twilio, message, call_status: str):
    body = (
        payload("call_status_completed.txt")
        .decode()
        .replace(PAYLOAD_SID, message.provider_message_id)
        .replace("CallStatus=completed", f"CallStatus={call_status}")
    )
    response = signed_post(client, twilio["voice"], "status", body, query=f"ref={message.reference}")
    assert response.status_code == 200
    return response


@pytest.mark.parametrize(
    "language, given, spoken",
    [("fr", None, "fr-FR"), ("es", None, "es-ES"), ("", None, "en-GB"), ("fr", "fr-CA", "fr-CA")],
)
def test_the_call_speaks_the_contacts_language(workspace, twilio, fake, language, given, spoken):
    contact = ContactFactory(workspace=workspace, phone="+447911123456", language=language)
    voice = {"say": "Bonjour"} | ({"language": given} if given else {})
    call(workspace, contact, {"voice": voice})
    say = twiml(fake).find("Say")
    assert say.get("language") == spoken and say.text == "Bonjour"


def test_options_on_a_call_are_spoken_as_keys_and_the_call_waits_for_one(workspace, contact, twilio, fake):
    message = call(
        workspace,
        contact,
        {
            "text": "Can you pay today?",
            "quick_replies": [{"id": "pay", "title": "Yes"}, {"id": "later", "title": "No"}],
        },
    )
    gather = twiml(fake).find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.find("Say").text == "Can you pay today? For Yes, press 1. For No, press 2."
    assert gather.get("action").endswith(f"/inbound/?ref={message.reference}")


def test_answered_then_completed_records_one_call_answered_event(client, workspace, contact, twilio, fake):
    message = call(workspace, contact, {"voice": {"say": "Your appointment is tomorrow."}})
    status(client, twilio, message, "completed")  # out of order: completed first
    status(client, twilio, message, "in-progress")  # late
    status(client, twilio, message, "completed")  # duplicate
    [event] = Event.objects.filter(name__startswith="call.")
    assert event.name == "call.answered" and event.contact == contact
    assert event.properties == {
        "message_id": message.pk,
        "channel": "voice",
        "channel_id": twilio["voice"].pk,
    }
    assert fresh(message).status == S.DELIVERED


@pytest.mark.parametrize("call_status, name", [("no-answer", "call.no_answer"), ("busy", "call.busy")])
def test_an_unanswered_call_fails_the_message_and_records_its_event(
    client, workspace, contact, twilio, fake, call_status, name
):
    message = call(workspace, contact, {"voice": {"say": "Hello"}})
    status(client, twilio, message, "ringing")
    status(client, twilio, message, call_status)
    status(client, twilio, message, call_status)  # Twilio retries a callback
    assert list(Event.objects.filter(name__startswith="call.").values_list("name", flat=True)) == [name]
    m = fresh(message)
    assert (m.status, m.error_code) == (S.FAILED, call_status)


def test_a_tampered_call_status_callback_is_403_and_records_nothing(client, workspace, contact, twilio, fake):
    message = call(workspace, contact, {"voice": {"say": "Hello"}})
    body = payload("call_status_completed.txt").decode().replace(PAYLOAD_SID, message.provider_message_id)
    response = signed_post(
        client, twilio["voice"], "status", body, query=f"ref={message.reference}", token="wrong"
    )
    assert response.status_code == 403
    assert not Event.objects.filter(name__startswith="call.").exists()
    assert fresh(message).status == S.SENT


def test_a_keyed_answer_resumes_the_journey_question(client, workspace, contact, twilio, fake):
    ask = {"channel": "voice", "template": {"en": "Press 1 to confirm, 2 to cancel."}, "timeout_s": 3600,
           "branches": [{"exit": "confirm", "match": "number", "min": 1, "max": 1},
                        {"exit": "cancel", "match": "number", "min": 2, "max": 2}]}  # fmt: skip
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="ask"),
        ask=node("message.ask", ask, confirm=None, cancel=None, other=None, timeout=None, failed=None),
    )
    actor = Actor.system("test")
    now = timezone.now()  # the webhook below records the reply at the real time
    journey = journey_create(workspace=workspace, actor=actor, name="Confirm", graph=g)
    journey_publish(journey=journey, actor=actor, now=now)
    event_record(workspace=workspace, contact=contact, name="signup", now=now)
    run_pending(now=now)
    dispatch_pending(now=now)
    [message] = Message.objects.filter(direction="out", kind="voice")
    gather = twiml(fake).find("Gather")
    assert gather is not None and gather.find("Say").text == "Press 1 to confirm, 2 to cancel."
    digits = (
        payload("call_gather_digits.txt").decode().replace(PAYLOAD_SID, message.provider_message_id)
    )  # the contact keyed 2
    assert (
        signed_post(client, twilio["voice"], "inbound", digits, query=f"ref={message.reference}").status_code
        == 200
    )
    run_pending(now=timezone.now())
    enrollment = Enrollment.objects.get(journey=journey)
    assert [(s.node, s.exit) for s in Step.objects.filter(enrollment=enrollment)][-1] == ("ask", "cancel")
