"""Each node type's handler, through the engine: what the contact receives, the exit taken."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone

from channels_app.models import Channel
from contacts.models import AttributeDefinition
from experiments.models import ExperimentArm, ExperimentAssignment
from journeys.models import Enrollment, JourneyCounter, Step
from tests.factories import ContactFactory, TagFactory
from tests.journeys.conftest import graph, linear, node, reply, texts_to

pytestmark = pytest.mark.django_db
SIGNUP = ("trigger.event", {"event": "signup"})


def exits_taken(enrollment):
    return [(s.node, s.exit) for s in Step.objects.filter(enrollment=enrollment)]


def one(contact):
    return Enrollment.objects.get(contact=contact)


def start(publish, fire, engine, contact, g, now=None, **props):
    journey = publish(g)
    now = now or timezone.now()
    fire(contact, g["nodes"][g["start"]]["config"].get("event", "signup"), now=now, **props)
    engine(now)
    return journey, now


def test_merge_fields_language_and_safe_defaults(workspace, publish, fire, engine):
    fr = ContactFactory(workspace=workspace, first_name="", language="fr")
    g = linear(SIGNUP, ("message.send", {"channel": "sms", "template": {
        "en": "Hi {{contact.first_name|there}}, cart {{event.cart_id}}",
        "fr": "Bonjour {{contact.first_name|toi}}, panier {{event.cart_id|?}} {{context.nothing}} {{weird.thing}}"}}))  # fmt: skip
    start(publish, fire, engine, fr, g, cart_id="C-9")
    assert texts_to(fr) == ["Bonjour toi, panier C-9  {{weird.thing}}"]


def test_message_send_blocked_by_consent_takes_failed(workspace, publish, fire, engine):
    c = ContactFactory(workspace=workspace, phone=None, email="x@example.com")
    g = linear(SIGNUP, ("message.send", {"channel": "sms", "template": {"en": "hi"}}))
    g["nodes"]["n1"]["exits"]["failed"] = "end"
    start(publish, fire, engine, c, g)
    assert exits_taken(one(c))[1] == ("n1", "failed")
    assert one(c).status == "completed"


def test_ask_branches_on_keywords_numbers_and_other(workspace, publish, fire, engine, contact):
    ask = {"channel": "sms", "template": {"en": "Rate 1-10 or say yes"}, "timeout_s": 3600, "save_as": "answer",
           "branches": [{"exit": "yes", "match": "keywords", "values": ["yes", "yep"]},
                        {"exit": "high", "match": "number", "min": 8, "max": 10},
                        {"exit": "code", "match": "regex", "pattern": r"^[A-Z]{3}\d$"}]}  # fmt: skip
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="ask"),
              ask=node("message.ask", ask, yes=None, high=None, code=None, other=None, timeout=None, failed=None))  # fmt: skip
    start(publish, fire, engine, contact, g)
    assert one(contact).status == "waiting"
    reply(contact, "I'd say 9!")
    engine()
    e = one(contact)
    assert exits_taken(e)[-1] == ("ask", "high") and e.context["answer"] == "I'd say 9!"


def test_ask_times_out(workspace, publish, fire, engine, contact):
    ask = {"channel": "sms", "template": {"en": "Still there?"}, "timeout_s": 60, "branches": []}
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="ask"),
              ask=node("message.ask", ask, other=None, timeout="bye", failed=None),
              bye=node("message.send", {"channel": "sms", "template": {"en": "Bye"}}, next=None, failed=None))  # fmt: skip
    _, now = start(publish, fire, engine, contact, g)
    engine(now + dt.timedelta(seconds=30))
    assert texts_to(contact) == ["Still there?"]
    engine(now + dt.timedelta(seconds=61))
    assert texts_to(contact) == ["Still there?", "Bye"]
    assert exits_taken(one(contact))[1] == ("ask", "timeout")


def test_reply_goes_to_the_newest_waiting_ask_only_and_a_stale_timer_does_nothing(
    workspace, publish, fire, engine, contact
):
    ask = {
        "channel": "sms",
        "template": {"en": "Q"},
        "timeout_s": 60,
        "branches": [{"exit": "yes", "match": "keywords", "values": ["yes"]}],
    }
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="ask"),
              ask=node("message.ask", ask, yes=None, other=None, timeout=None, failed=None))  # fmt: skip
    _, now = start(publish, fire, engine, contact, g)
    e = one(contact)
    token = e.resume_token
    reply(contact, "yes", now=now + dt.timedelta(seconds=5))
    # the timer comes due before the engine looked at the reply: the reply (first) wins
    engine(now + dt.timedelta(seconds=61))
    e.refresh_from_db()
    assert exits_taken(e)[-1] == ("ask", "yes") and e.status == "completed"
    # a stale resume with the old token is ignored
    Enrollment.objects.filter(pk=e.pk).update(resume={"kind": "timeout", "token": token}, due_at=now)
    engine(now + dt.timedelta(seconds=62))
    assert exits_taken(one(contact))[-1] == ("ask", "yes")


def test_wait_until_time_of_day_in_the_contacts_zone(workspace, publish, fire, engine):
    c = ContactFactory(workspace=workspace, timezone="America/New_York")
    g = linear(SIGNUP, ("wait.until", {"mode": "time_of_day", "time": "09:00", "weekdays": [0, 1, 2, 3, 4]}))
    saturday = dt.datetime(2026, 3, 7, 12, 0, tzinfo=dt.UTC)
    start(publish, fire, engine, c, g, now=saturday)
    # Monday 9 March 09:00 in New York (EDT from 8 March) is 13:00 UTC
    assert one(c).wait_until == dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC)


def test_wait_until_date_attribute_and_missing(workspace, publish, fire, engine):
    AttributeDefinition.objects.create(workspace=workspace, key="due_date", label="Due", type="date")
    has = ContactFactory(workspace=workspace, attributes={"due_date": "2026-03-20"})
    lacks = ContactFactory(workspace=workspace)
    g = linear(
        SIGNUP,
        ("wait.until", {"mode": "attribute", "attribute": "due_date", "offset_days": -3, "time": "10:00"}),
    )
    g["nodes"]["n1"]["exits"]["missing"] = "end"
    journey = publish(g)
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    fire(has, "signup", now=now)
    fire(lacks, "signup", now=now)
    engine(now)
    assert Enrollment.objects.get(journey=journey, contact=has).wait_until == dt.datetime(
        2026, 3, 17, 10, 0, tzinfo=dt.UTC
    )
    assert exits_taken(Enrollment.objects.get(journey=journey, contact=lacks))[1] == ("n1", "missing")


def test_wait_event_matches_the_entry_events_property(workspace, publish, fire, engine, contact):
    g = graph(trigger=node("trigger.event", {"event": "cart_abandoned"}, next="w"),
              w=node("wait.event", {"event": "purchase", "match": {"cart_id": "{{event.cart_id}}"}, "timeout_s": 3600},
                     event="thanks", timeout=None),
              thanks=node("message.send", {"channel": "sms", "template": {"en": "Thanks for {{context.last_event.cart_id}}"}},
                          next=None, failed=None))  # fmt: skip
    _, now = start(publish, fire, engine, contact, g, cart_id="A1")
    fire(contact, "purchase", now=now, cart_id="B2")  # another cart: no
    engine(now)
    assert one(contact).status == "waiting"
    fire(contact, "purchase", now=now, cart_id="A1")
    engine(now)
    assert texts_to(contact) == ["Thanks for A1"]


def test_split_condition_rules_in_order(workspace, publish, fire, engine):
    AttributeDefinition.objects.create(workspace=workspace, key="plan", label="Plan", type="text")
    vip_tag = TagFactory(workspace=workspace, name="vip")
    rules = {"rules": [
        {"exit": "vip", "conditions": [{"source": "tag", "op": "has", "value": "vip"}]},
        {"exit": "gold", "match": "any", "conditions": [{"source": "attribute", "key": "plan", "op": "eq", "value": "gold"},
                                                         {"source": "event", "key": "amount", "op": "gt", "value": 100}]},
        {"exit": "sms_ok", "conditions": [{"source": "channel", "op": "available", "channel": "sms"},
                                          {"source": "consent", "op": "allowed", "channel": "sms", "purpose": "transactional"}]},
    ]}  # fmt: skip
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="s"),
              s=node("split.condition", rules, vip=None, gold=None, sms_ok=None, **{"else": None}))  # fmt: skip
    publish(g)
    vip = ContactFactory(workspace=workspace)
    vip.tags.add(vip_tag)
    big = ContactFactory(workspace=workspace)
    reachable = ContactFactory(workspace=workspace)
    nobody = ContactFactory(workspace=workspace, phone=None)
    now = timezone.now()
    from contacts.services import event_record

    for c, amount in ((vip, 0), (big, 500), (reachable, 1), (nobody, 1)):
        event_record(workspace=workspace, contact=c, name="signup", properties={"amount": amount}, now=now)
    engine(now)
    assert [exits_taken(one(c))[1][1] for c in (vip, big, reachable, nobody)] == [
        "vip",
        "gold",
        "sms_ok",
        "else",
    ]


def test_ab_split_is_sticky_weighted_and_records_exposure_once(workspace, publish, fire, engine, actor):
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="ab"),
              ab=node("split.ab", {"variants": [{"exit": "a", "weight": 80}, {"exit": "b", "weight": 20}]}, a=None, b=None))  # fmt: skip
    journey = publish(g, allow_reentry=True)
    contacts = [ContactFactory(workspace=workspace) for _ in range(60)]
    now = timezone.now()
    for c in contacts:
        fire(c, "signup", now=now)
    engine(now)
    first = {c.pk: ExperimentAssignment.objects.get(contact=c).variant for c in contacts}
    assert 30 < list(first.values()).count("a") < 60
    assert {c.pk: exits_taken(Enrollment.objects.get(contact=c))[1][1] for c in contacts} == first
    # they come again: same variant, and the exposure is not counted twice
    for c in contacts[:10]:
        fire(c, "signup", now=now)
    engine(now)
    for c in contacts[:10]:
        again = Enrollment.objects.filter(contact=c).order_by("-pk").first()
        assert exits_taken(again)[1][1] == first[c.pk]
    assert ExperimentAssignment.objects.filter(experiment__journey_id=journey.pk).count() == 60
    arms = dict(
        ExperimentArm.objects.filter(experiment__journey_id=journey.pk).values_list("exit", "exposures")
    )
    assert arms == {"a": list(first.values()).count("a"), "b": list(first.values()).count("b")}
    total = sum(
        JourneyCounter.objects.filter(journey=journey, key__startswith="exposure:").values_list(
            "value", flat=True
        )
    )
    assert total == 60


def test_contact_update_sets_attributes_tags_language(workspace, publish, fire, engine, contact):
    AttributeDefinition.objects.create(workspace=workspace, key="plan", label="Plan", type="text")
    contact.tags.add(TagFactory(workspace=workspace, name="trial"))
    cfg = {
        "attributes": {"plan": "{{event.plan}}"},
        "add_tags": ["customer"],
        "remove_tags": ["trial"],
        "language": "fr",
    }
    start(publish, fire, engine, contact, linear(SIGNUP, ("contact.update", cfg)), plan="gold")
    contact.refresh_from_db()
    assert contact.attributes["plan"] == "gold" and contact.language == "fr"
    assert sorted(contact.tags.values_list("name", flat=True)) == ["customer"]


def test_contact_update_refused_value_takes_failed(workspace, publish, fire, engine, contact):
    cfg = {"preferred_channel": "email"}
    contact.email = ""
    contact.save()
    g = linear(SIGNUP, ("contact.update", {"language": "xx"}))
    start(publish, fire, engine, contact, g)
    assert exits_taken(one(contact))[1][1] in ("failed", "next")
    assert cfg


class Hook(BaseHTTPRequestHandler):
    answers: list = []
    seen: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.seen.append((self.command, self.path, json.loads(body or b"null"), self.headers.get("X-Key")))
        status, payload = Hook.answers.pop(0) if Hook.answers else (200, {"order": {"status": "shipped"}})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    do_GET = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    server = HTTPServer(("127.0.0.1", 0), Hook)
    Hook.answers, Hook.seen = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_webhook_success_maps_answer_into_context(workspace, publish, fire, engine, contact, hook_server):
    cfg = {"method": "POST", "url": hook_server + "/orders/{{event.order}}", "headers": {"X-Key": "k-{{contact.id}}"},
           "body": {"phone": "{{contact.phone}}"}, "timeout_s": 2, "map": {"order_status": "order.status"}}  # fmt: skip
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="hook"),
              hook=node("webhook.call", cfg, success="ok", failure=None),
              ok=node("message.send", {"channel": "sms", "template": {"en": "Your order is {{context.order_status}}"}}, next=None, failed=None))  # fmt: skip
    start(publish, fire, engine, contact, g, order="O-7")
    assert Hook.seen == [("POST", "/orders/O-7", {"phone": contact.phone}, f"k-{contact.pk}")]
    assert texts_to(contact) == ["Your order is shipped"]


def test_webhook_500_takes_failure_and_get_is_retried(workspace, publish, fire, engine, contact, hook_server):
    Hook.answers = [(500, {}), (500, {}), (503, {})]
    g = linear(
        SIGNUP, ("webhook.call", {"method": "GET", "url": hook_server + "/x", "retries": 2, "timeout_s": 2})
    )
    g["nodes"]["n1"]["exits"]["failure"] = "end"
    start(publish, fire, engine, contact, g)
    assert len(Hook.seen) == 3
    assert exits_taken(one(contact))[1] == ("n1", "failure")


def test_inbox_handoff_records_an_event_and_waits_for_resolution(workspace, publish, fire, engine, contact):
    from contacts.models import Event

    cfg = {
        "queue": "collections",
        "priority": "high",
        "note": "Call {{contact.first_name}}",
        "continue": "on_resolved",
        "timeout_s": 3600,
    }
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="h"),
        h=node("inbox.handoff", cfg, resolved=None, timeout=None),
    )
    _, now = start(publish, fire, engine, contact, g)
    ev = Event.objects.get(contact=contact, name="inbox.handoff_requested")
    assert ev.properties["queue"] == "collections" and ev.properties["note"] == "Call Ada"
    fire(contact, "conversation.resolved", now=now)
    engine(now)
    assert exits_taken(one(contact))[-1] == ("h", "resolved")


@pytest.mark.parametrize(
    ("scale", "answers", "band"),
    [("nps", ["10"], "promoter"), ("csat", ["meh", "2"], "unhappy"), ("nps", ["x", "y", "z"], "no_response")],
)
def test_survey_rating_parses_and_bands(workspace, publish, fire, engine, contact, scale, answers, band):
    cfg = {"scale": scale, "channel": "sms", "template": {"en": "Score?"}, "timeout_s": 3600}
    names = {"nps": ["detractor", "passive", "promoter"], "csat": ["unhappy", "neutral", "happy"]}[scale]
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="s"),
              s=node("survey.rating", cfg, **{n: None for n in names + ["no_response", "failed"]}))  # fmt: skip
    start(publish, fire, engine, contact, g)
    for text in answers:
        reply(contact, text)
        engine()
    e = one(contact)
    assert exits_taken(e)[-1] == ("s", band)


def test_payment_link_waits_for_the_payment(workspace, publish, fire, engine):
    c = ContactFactory(workspace=workspace, external_id="ACC-1")
    cfg = {"url": "https://pay.example.com/{{contact.external_id}}", "channel": "sms",
           "template": {"en": "Pay here: {{link}}"}, "timeout_s": 3600}  # fmt: skip
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="p"),
        p=node("payment.link", cfg, paid=None, timeout=None, failed=None),
    )
    _, now = start(publish, fire, engine, c, g)
    assert texts_to(c) == ["Pay here: https://pay.example.com/ACC-1"]
    fire(c, "payment_completed", now=now, amount=10)
    engine(now)
    assert exits_taken(one(c))[-1] == ("p", "paid")


def test_goal_event_ends_the_enrolment_and_counts(workspace, publish, fire, engine, contact):
    g = linear(SIGNUP, ("wait.delay", {"seconds": 3600}))
    g["nodes"]["won"] = node("goal", {"event": "purchase"})
    journey, now = start(publish, fire, engine, contact, g)
    fire(contact, "purchase", now=now)
    engine(now)
    e = one(contact)
    assert e.status == "goal"
    counters = dict(JourneyCounter.objects.filter(journey=journey, node="").values_list("key", "value"))
    assert counters["goal"] == 1 and counters["active"] == 0
    assert JourneyCounter.objects.get(journey=journey, node="n1", key="waiting").value == 0


def test_a_failing_handler_fails_that_contact_only(workspace, publish, fire, engine, monkeypatch):
    from journeys.nodes import wait_delay

    good, bad = ContactFactory(workspace=workspace), ContactFactory(workspace=workspace, first_name="Boom")
    original = wait_delay.NODE.enter

    def enter(run):
        if run.contact.first_name == "Boom":
            raise RuntimeError("kaput")
        return original(run)

    monkeypatch.setattr(wait_delay.NODE, "enter", enter)
    publish(linear(SIGNUP, ("wait.delay", {"seconds": 60})))
    now = timezone.now()
    fire(good, "signup", now=now)
    fire(bad, "signup", now=now)
    engine(now)
    assert one(good).status == "waiting"
    assert one(bad).status == "failed" and "kaput" in one(bad).end_reason


def test_loop_guard_stops_a_runaway_contact(workspace, publish, fire, engine, contact, monkeypatch):
    from journeys.nodes import wait_delay

    monkeypatch.setattr(
        wait_delay.NODE, "enter", lambda run: __import__("journeys.nodes.base", fromlist=["go"]).go("next")
    )
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="a"),
        a=node("wait.delay", {"seconds": 1}, next="a"),
    )
    start(publish, fire, engine, contact, g)
    e = one(contact)
    assert e.status == "failed" and e.end_reason == "loop guard: entered 'a' 10 times without waiting"
    assert e.steps_count == 12  # the trigger, ten visits of a, and the eleventh refused


def test_channel_checks_for_disabled_channels(workspace):
    from journeys.validation import validate_graph

    Channel.objects.filter(workspace=workspace, kind="viber").update(status="disabled")
    g = linear(SIGNUP, ("message.send", {"channel": "viber", "template": {"en": "hi"}}))
    assert validate_graph(g, workspace=workspace)[0]["field"] == "config.channel"
