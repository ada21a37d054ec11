"""Issue 11 item 18: JSON nested 1,000 deep (and other JSON no database column can hold) is a clear
400 saying what is wrong, never a 500, wherever the product reads JSON: API bodies (one DRF
parser), the editor's save, the node form, the channel form, the contact event form, the test
run's event properties and the sandbox's webhook. All of them read through cpaas.jsoninput."""

import json

import pytest
from django.urls import reverse

from cpaas.jsoninput import MAX_DEPTH, JSONInputError, json_parse
from cpaas.tenancy import Actor
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
TOO_DEEP_MESSAGE = f"more than {MAX_DEPTH} levels"


def deep_in(key: str, wrapper: dict | None = None) -> str:
    """A JSON body whose `key` holds the 1,000-deep array (and otherwise valid fields)."""
    body = json.dumps({**(wrapper or {}), key: "__DEEP__"})
    return body.replace('"__DEEP__"', DEEP)


# --- the one parse path ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT, "[" * 100 + "]" * 100])
def test_too_deep_is_refused_with_where(text):
    with pytest.raises(JSONInputError, match=TOO_DEEP_MESSAGE) as caught:
        json_parse(text)
    openings = [i for i, c in enumerate(text) if c in "[{"]
    assert caught.value.pos == openings[MAX_DEPTH] and isinstance(caught.value, ValueError)


def test_depth_at_the_limit_is_fine_and_strings_do_not_count():
    assert json_parse("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert json_parse(json.dumps({"text": "[" * 5000})) == {"text": "[" * 5000}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"amount": NaN}', "NaN"),
        ('{"amount": Infinity}', "Infinity"),
        ('{"note": "a\\u0000b"}', "NUL"),
        ('{"a\\u0000": 1}', "NUL"),
        ('{"note": "\\ud800"}', "surrogate"),
        (b'{"note": "\xff"}', "UTF-8"),
        ("", "Expecting value"),
    ],
)
def test_json_no_column_can_store_is_refused(text, message):
    with pytest.raises(JSONInputError, match=message):
        json_parse(text)


def test_a_surrogate_pair_is_an_ordinary_character():
    assert json_parse('{"e": "\\ud83d\\ude00"}') == {"e": "😀"}


def test_size_is_checked_before_parsing():
    with pytest.raises(JSONInputError, match="at most 10 bytes"):
        json_parse('{"a": "0123456789"}', max_bytes=10)


# --- the API: one DRF parser for every endpoint ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/contacts/", deep_in("attributes", {"phone": "+447911123456"})),
        ("put", "/api/v1/contacts/by-external-id/x1/", deep_in("attributes")),
        ("post", "/api/v1/events/", deep_in("properties", {"contact": {"external_id": "x"}, "name": "e"})),
        ("post", "/api/v1/events/batch/", '{"events": [' + deep_in("properties", {"name": "e"}) + "]}"),
        ("post", "/api/v1/events/", DEEP),
        ("post", "/api/v1/journeys/", deep_in("graph", {"name": "J"})),
    ],
)
def test_api_answers_400_parse_error_for_deep_json(api, method, path, body):
    response = getattr(api, method)(path, data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "parse_error" and TOO_DEEP_MESSAGE in error["message"]


def test_api_draft_save_answers_400_for_deep_json(api, workspace, admin_user):
    from journeys.services import journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(admin_user), name="J")
    response = api.put(
        f"/api/v1/journeys/{journey.pk}/draft/", data=deep_in("graph"), content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_api_refuses_nul_in_event_properties_on_every_database(api):
    body = '{"contact": {"external_id": "x"}, "name": "e", "properties": {"note": "a\\u0000b"}}'
    response = api.post("/api/v1/events/", data=body, content_type="application/json")
    assert response.status_code == 400 and "NUL" in response.json()["error"]["message"]


# --- pages -------------------------------------------------------------------------------------


@pytest.fixture
def journey(workspace, admin_user):
    from journeys.services import journey_create

    return journey_create(workspace=workspace, actor=Actor.for_user(admin_user), name="Deep")


def test_editor_save_answers_400_for_deep_json(admin_client, journey):
    response = admin_client.post(
        reverse("editor_save", args=[journey.pk]),
        data=deep_in("graph", {"etag": ""}),
        content_type="application/json",
    )
    assert response.status_code == 400 and TOO_DEEP_MESSAGE in response.json()["error"]


def test_editor_node_form_answers_400_for_deep_config(admin_client, journey):
    response = admin_client.post(
        reverse("editor_node_form", args=[journey.pk]),
        {"type": "message.send", "node": "n1", "config": deep_in("template")},
    )
    assert response.status_code == 400 and TOO_DEEP_MESSAGE in response.content.decode()


def test_editor_node_form_field_with_deep_json_is_a_field_error(admin_client, journey):
    from journeys.editor.forms import SIMPLE_JSON
    from journeys.nodes import REGISTRY

    node, field = next((n, f) for n in REGISTRY.values() for f in n.form if f.get("widget") in SIMPLE_JSON)
    response = admin_client.post(
        reverse("editor_node_form", args=[journey.pk]),
        {"type": node.type, "node": "n1", "config": "{}", "apply": "1", f"cfg-{field['name']}": DEEP},
    )
    assert response.status_code == 200 and TOO_DEEP_MESSAGE in response.content.decode()


def test_editor_test_event_properties_answer_400_for_deep_json(admin_client, journey, workspace):
    contact = ContactFactory(workspace=workspace)
    response = admin_client.post(
        reverse("editor_test_start", args=[journey.pk]),
        {"contact": contact.pk, "action": "event", "event": "e", "properties": DEEP},
    )
    assert response.status_code == 400 and TOO_DEEP_MESSAGE in response.json()["error"]


def test_channel_form_shows_deep_settings_next_to_the_field(admin_client):
    response = admin_client.post(
        reverse("channel_create") + "?provider=sandbox",
        {"provider": "sandbox", "kind": "sms", "name": "Deep", "address": "+447700900001",
         "rate_limit_per_second": 5, "set_sandbox": DEEP},
    )  # fmt: skip
    assert response.status_code in (200, 400) and TOO_DEEP_MESSAGE in response.content.decode()
    from channels_app.models import Channel

    assert not Channel.objects.filter(name="Deep").exists()


def test_contact_event_form_shows_deep_properties_next_to_the_field(admin_client, workspace):
    from contacts.models import Event

    contact = ContactFactory(workspace=workspace)
    response = admin_client.post(
        reverse("contact_event_add", args=[contact.pk]), {"name": "e", "properties": DEEP}
    )
    assert response.status_code in (200, 400) and TOO_DEEP_MESSAGE in response.content.decode()
    assert not Event.objects.exists()


def test_sandbox_webhook_answers_400_for_deep_json(client, workspace):
    from channels_app.models import Channel
    from channels_app.providers.sandbox import SIGNATURE_HEADER, sign

    channel = Channel.objects.filter(workspace=workspace, provider="sandbox", kind="sms").first()
    body = DEEP.encode()
    response = client.post(
        reverse("webhook_inbound", args=["sandbox", channel.webhook_token]),
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: sign(channel.credentials.get("secret", ""), body)},
    )
    assert response.status_code == 400


def test_api_refuses_a_form_with_fields_and_takes_an_empty_one(api, client, admin_user):
    from django.test import Client

    form = api.post("/api/v1/events/", data={"name": "e"}, format="multipart")
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
    assert "application/json" in form.json()["error"]["message"]
    urlencoded = api.post("/api/v1/events/", data="name=e", content_type="application/x-www-form-urlencoded")
    assert urlencoded.status_code == 415
    # an empty form is an empty body: the answer is about the missing fields
    session = Client()
    session.force_login(admin_user)
    empty = session.post("/api/v1/events/")
    assert empty.status_code == 400 and "name" in empty.json()["error"]["fields"]


def test_the_schema_documents_json_bodies_only(api):
    schema = api.get("/api/schema/?format=json").json()
    types = {
        media
        for path in schema["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and "requestBody" in op
        for media in op["requestBody"]["content"]
    }
    assert types == {"application/json"}
