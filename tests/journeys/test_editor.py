"""The canvas editor's endpoints: draft save with conflict detection, node forms with
field-level errors, SMS segments, publish with problems, versions, restore, changes, roles."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from cpaas.tenancy import Actor
from journeys.editor.services import graph_changes, graph_etag
from journeys.models import JourneyVersion
from journeys.services import journey_create, journey_publish
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def otp_graph():
    return {
        "schema": 1,
        "start": "signup",
        "nodes": {
            "signup": {"type": "trigger.event", "config": {"event": "signup"}, "exits": {"next": "otp"},
                       "position": {"x": 0, "y": 0}},
            "otp": {"type": "otp.verify", "config": {"channels": ["sms", "whatsapp"]},
                    "exits": {"verified": "welcome", "failed": None, "expired": None}, "position": {"x": 300, "y": 0}},
            "welcome": {"type": "message.send", "config": {"channel": "sms", "template": {"en": "Welcome!"}},
                        "exits": {"next": None, "failed": None}, "position": {"x": 600, "y": 0}},
        },
    }  # fmt: skip


@pytest.fixture
def journey(workspace, marketer):
    return journey_create(
        workspace=workspace, actor=Actor.for_user(marketer), name="Onboarding", graph=otp_graph()
    )


def save(client, journey, graph, etag):
    return client.post(
        reverse("editor_save", args=[journey.pk]),
        data=json.dumps({"graph": graph, "etag": etag}),
        content_type="application/json",
    )


def test_editor_page_boots_with_the_draft_and_its_etag(journey, marketer):
    response = client_for(marketer).get(reverse("editor", args=[journey.pk]))
    assert response.status_code == 200
    boot = response.context["boot"]
    assert boot["graph"]["nodes"]["otp"]["type"] == "otp.verify"
    assert boot["etag"] == graph_etag(otp_graph())
    assert boot["exits"]["otp"] == ["verified", "failed", "expired"]
    assert boot["problems"] == []
    assert "joint.min.js" in response.content.decode()


def test_save_then_a_stale_save_is_a_conflict_not_an_overwrite(journey, marketer, admin_user):
    # given two editors that opened the same draft
    etag = graph_etag(otp_graph())
    mine, theirs = otp_graph(), otp_graph()
    theirs["nodes"]["welcome"]["config"]["template"] = {"en": "Theirs"}
    mine["nodes"]["welcome"]["config"]["template"] = {"en": "Mine"}
    # when the first saves
    first = save(client_for(admin_user), journey, theirs, etag)
    assert first.status_code == 200 and first.json()["etag"] == graph_etag(theirs)
    # then the second, still on the old etag, gets a conflict with the stored graph
    second = save(client_for(marketer), journey, mine, etag)
    assert second.status_code == 409
    body = second.json()
    assert body["conflict"] and body["author"] == admin_user.username
    assert body["graph"]["nodes"]["welcome"]["config"]["template"] == {"en": "Theirs"}
    stored = JourneyVersion.objects.get(journey=journey, published_at=None)
    assert stored.graph["nodes"]["welcome"]["config"]["template"] == {"en": "Theirs"}
    # and choosing "keep mine" (saving on the etag they were shown) replaces it
    third = save(client_for(marketer), journey, mine, body["etag"])
    assert third.status_code == 200
    stored.refresh_from_db()
    assert stored.graph["nodes"]["welcome"]["config"]["template"] == {"en": "Mine"}


def test_save_returns_problems_for_an_unconnected_exit(journey, marketer):
    graph = otp_graph()
    del graph["nodes"]["otp"]["exits"]["expired"]
    response = save(client_for(marketer), journey, graph, graph_etag(otp_graph()))
    assert response.status_code == 200
    problems = response.json()["problems"]
    assert {
        "node": "otp",
        "field": "exits.expired",
        "message": "Connect the 'expired' exit or end it.",
        "text": "'Verify by SMS then WhatsApp': connect the 'expired' exit or end it.",
    } in problems


def test_save_rejects_what_is_not_a_graph(journey, marketer):
    response = client_for(marketer).post(
        reverse("editor_save", args=[journey.pk]), data="nope", content_type="application/json"
    )
    assert response.status_code == 400


def test_node_form_renders_from_the_module_definition_with_field_errors(journey, marketer):
    url = reverse("editor_node_form", args=[journey.pk])
    response = client_for(marketer).post(
        url,
        {"type": "otp.verify", "node": "otp", "config": json.dumps({"channels": ["sms"]}), "apply": "1",
         "cfg-channels": "sms, pigeon", "cfg-max_attempts": "lots", "cfg-expiry_s": "30"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="cfg-channels"' in html and "Attempts allowed" in html
    assert "Not a number." in html  # could not be read
    assert "30 s is shorter than the minimum, 1 min." in html  # the schema's bound, as a duration
    out = json.loads(response.context["config_json"])
    assert out["channels"] == ["sms", "pigeon"] and out["expiry_s"] == 30


def test_message_form_offers_configured_channels_and_language_variants(journey, marketer, workspace):
    from channels_app.models import Channel

    Channel.objects.filter(workspace=workspace, kind="viber").update(status=Channel.Status.DISABLED)
    response = client_for(marketer).post(
        reverse("editor_node_form", args=[journey.pk]),
        {"type": "message.send", "node": "welcome", "apply": "1", "config": json.dumps({"template": {"en": "Hi"}}),
         "cfg-channel": "sms", "cfg-template-lang": ["en"], "cfg-template-text": ["Hi {{contact.first_name}}"],
         "cfg-template-new": "es"},
    )  # fmt: skip
    html = response.content.decode()
    assert '<option value="whatsapp"' in html and '<option value="viber"' not in html
    config = json.loads(response.context["config_json"])
    assert config["template"] == {"en": "Hi {{contact.first_name}}", "es": "Hi {{contact.first_name}}"}
    assert config["channel"] == "sms"
    assert "contact.first_name" in html  # the merge-field picker


def test_sms_counter_uses_gsm7_and_ucs2(marketer):
    client = client_for(marketer)
    gsm = client.post(reverse("editor_sms"), {"text": "a" * 161})
    assert "161 characters · 2 segments · GSM-7" in gsm.content.decode()
    ucs = client.post(reverse("editor_sms"), {"text": "Olá 👋 {{contact.first_name}}"})
    assert "UCS-2" in ucs.content.decode() and "Ana" in ucs.content.decode()  # preview with sample values


def test_publish_refuses_with_problems_then_publishes_with_a_note(journey, marketer):
    client = client_for(marketer)
    graph = otp_graph()
    del graph["nodes"]["welcome"]["exits"]["failed"]
    save(client, journey, graph, graph_etag(otp_graph()))
    refused = client.post(reverse("editor_publish", args=[journey.pk]), {"note": "first"})
    assert refused.status_code == 400 and refused.json()["problems"][0]["node"] == "welcome"
    graph["nodes"]["welcome"]["exits"]["failed"] = None
    save(client, journey, graph, _etag(journey))
    ok = client.post(reverse("editor_publish", args=[journey.pk]), {"note": "first"})
    assert ok.status_code == 200 and ok.json()["version"] == 1
    journey.refresh_from_db()
    assert journey.status == "live" and journey.live_version.note == "first"


def _etag(journey):
    from journeys.services import draft_for

    return graph_etag(draft_for(journey).graph)


def test_versions_history_read_only_view_restore_and_changes(journey, marketer):
    client = client_for(marketer)
    journey_publish(journey=journey, actor=Actor.for_user(marketer), note="launch")
    # the draft changes: a node added, one changed
    graph = otp_graph()
    graph["nodes"]["welcome"]["config"]["template"] = {"en": "Hello again"}
    graph["nodes"]["bye"] = {"type": "exit", "config": {}, "exits": {}}
    graph["nodes"]["welcome"]["exits"]["next"] = "bye"
    assert save(client, journey, graph, _etag(journey)).status_code == 200
    history = client.get(reverse("editor_versions", args=[journey.pk])).content.decode()
    assert "v1" in history and "launch" in history and marketer.username in history
    assert "1 added" in history and "bye" in history and "1 changed" in history
    readonly = client.get(reverse("editor_version", args=[journey.pk, 1]))
    assert readonly.context["boot"]["readonly"] and "read-only" in readonly.content.decode()
    restored = client.post(reverse("editor_restore", args=[journey.pk, 1]))
    assert restored.status_code == 302
    assert JourneyVersion.objects.get(journey=journey, published_at=None).graph == otp_graph()


def test_graph_changes_ignores_moves():
    a = otp_graph()
    b = otp_graph()
    b["nodes"]["otp"]["position"] = {"x": 999, "y": 1}
    del b["nodes"]["welcome"]
    assert graph_changes(a, b) == {"added": [], "removed": ["welcome"], "changed": []}


def test_start_points_blank_and_duplicate(marketer, journey):
    client = client_for(marketer)
    blank = client.post(reverse("editor_index"), {"start": "blank", "name": "Fresh"})
    assert blank.status_code == 302
    dup = client.post(reverse("editor_index"), {"start": "duplicate", "journey": journey.pk})
    assert dup.status_code == 302
    page = client.get(reverse("editor_index")).content.decode()
    assert "Fresh" in page and "Onboarding (copy)" in page


def test_viewer_sees_the_editor_read_only(journey, viewer):
    response = client_for(viewer).get(reverse("editor", args=[journey.pk]))
    assert response.status_code == 200 and response.context["boot"]["readonly"]
    assert save(client_for(viewer), journey, otp_graph(), "x").status_code == 403


def test_another_workspace_cannot_save_into_the_journey(journey, other_admin):
    assert save(client_for(other_admin), journey, otp_graph(), "x").status_code == 404


def test_test_run_start_path_event_fire_and_restart(workspace, marketer):
    from contacts.models import Contact
    from journeys.models import Enrollment

    graph = {
        "schema": 1,
        "start": "t",
        "nodes": {
            "t": {"type": "trigger.manual", "config": {}, "exits": {"next": "w"}},
            "w": {"type": "wait.event", "config": {"event": "app_opened", "timeout_s": 3600},
                  "exits": {"event": "end", "timeout": "end"}},
            "end": {"type": "exit", "config": {}, "exits": {}},
        },
    }  # fmt: skip
    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="T", graph=graph,
                             rules={"allow_reentry": True})  # fmt: skip
    journey_publish(journey=journey, actor=Actor.for_user(marketer))
    contact = Contact.objects.create(workspace=workspace, first_name="Tess", phone="+447700900556")
    client = client_for(marketer)
    url = reverse("editor_test_start", args=[journey.pk])
    assert "Their phone" in client.get(url).content.decode()
    started = client.post(url, {"contact": contact.pk, "action": "start"})
    assert started.status_code == 200
    # the engine runs it to the wait (in tests, inline)
    from journeys.engine import run_pending

    run_pending()
    path = client.post(url, {"contact": contact.pk, "action": "path"}).json()
    assert path["visited"][:2] == ["t", "w"] and path["status"] == "waiting"
    fired = client.post(url, {"contact": contact.pk, "action": "fire"})
    assert fired.status_code == 200
    assert Enrollment.objects.get(pk=path["enrollment"]).wait_until <= timezone.now()
    bad = client.post(
        url, {"contact": contact.pk, "action": "event", "event": "app_opened", "properties": "[1]"}
    )
    assert bad.status_code == 400
    sent = client.post(url, {"contact": contact.pk, "action": "event", "event": "app_opened"})
    assert sent.status_code == 200
    restarted = client.post(url, {"contact": contact.pk, "action": "restart"})
    assert restarted.status_code == 200
    tests = Enrollment.objects.filter(journey=journey, contact=contact, is_test=True)
    assert tests.count() == 2 and tests.filter(status__in=Enrollment.OPEN).count() == 1


def test_template_gallery_previews_and_every_template_opens_valid_in_the_editor(marketer):
    from journeys.models import Journey
    from journeys.templates_catalogue import TEMPLATES

    client = client_for(marketer)
    gallery = client.get(reverse("editor_index")).content.decode()
    assert gallery.count('class="tpl-preview"') == len(TEMPLATES)
    for key in TEMPLATES:
        response = client.post(
            reverse("editor_index"), {"start": "template", "template": key, "name": f"J {key}"}
        )
        assert response.status_code == 302, key
        journey = Journey.objects.get(template_key=key)
        boot = client.get(reverse("editor", args=[journey.pk])).context["boot"]
        assert boot["problems"] == [], (key, boot["problems"][:3])
        assert all(boot["exits"][nid] is not None for nid in boot["graph"]["nodes"])


def test_use_this_template_asks_for_a_name_and_never_makes_x_2(marketer):
    from journeys.models import Journey

    client = client_for(marketer)
    # the gallery asks for the name, suggesting the template's own
    gallery = client.get(reverse("editor_index")).content.decode()
    assert 'name="name" type="text" required maxlength="120" value="Abandoned cart"' in gallery
    # no name: refused with a message, nothing made
    r = client.post(reverse("editor_index"), {"start": "template", "template": "abandoned_cart"}, follow=True)
    assert "Name the new journey." in r.content.decode()
    assert not Journey.objects.exists()
    # a name: made with exactly that name
    client.post(
        reverse("editor_index"), {"start": "template", "template": "abandoned_cart", "name": "Cart rescue"}
    )
    assert list(Journey.objects.values_list("name", flat=True)) == ["Cart rescue"]
    # the same name again: refused, not "Cart rescue 2"
    r = client.post(
        reverse("editor_index"),
        {"start": "template", "template": "abandoned_cart", "name": "Cart rescue"},
        follow=True,
    )
    assert "A journey named &#x27;Cart rescue&#x27; exists already" in r.content.decode()
    assert Journey.objects.count() == 1
    # and the suggestion moves on once the template's name is taken
    client.post(
        reverse("editor_index"), {"start": "template", "template": "abandoned_cart", "name": "Abandoned cart"}
    )
    assert 'value="Abandoned cart 2"' in client.get(reverse("editor_index")).content.decode()


def test_the_gallery_preview_draws_each_node_with_its_icon_and_names_the_steps(marketer):
    gallery = client_for(marketer).get(reverse("editor_index")).content.decode()
    assert "Preview of Abandoned cart: When cart_abandoned → Wait for purchase" in gallery
    assert 'sprite.svg#zap"' in gallery and '<path d="M' in gallery
