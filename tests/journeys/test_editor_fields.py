"""Node panel fields as a marketer uses them (issue 16): durations typed and shown in words
(item 8), fallback channels picked in order from the workspace's channels (item 9)."""

import json

import pytest
from django.urls import reverse

from channels_app.models import Channel
from cpaas.tenancy import Actor
from journeys.services import journey_create
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def journey(workspace, marketer):
    return journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Fields")


def post_form(journey, user, type_, config, **fields):
    return client_for(user).post(
        reverse("editor_node_form", args=[journey.pk]),
        {"type": type_, "node": "n", "config": json.dumps(config), "apply": "1", **fields},
    )


@pytest.mark.parametrize("type_, field", [("wait.delay", "seconds"), ("wait.event", "timeout_s"),
                                          ("message.ask", "timeout_s"), ("otp.verify", "expiry_s")])  # fmt: skip
def test_every_wait_and_timeout_field_reads_and_shows_durations_in_words(journey, marketer, type_, field):
    response = post_form(journey, marketer, type_, {}, **{f"cfg-{field}": "2 h 30 min"})
    assert json.loads(response.context["config_json"])[field] == 9000
    assert 'value="2 h 30 min"' in response.content.decode()


def test_a_duration_is_shown_as_days_not_seconds(journey, marketer):
    html = post_form(journey, marketer, "wait.delay", {"seconds": 604800}).content.decode()
    assert 'id="cfg-seconds" name="cfg-seconds" type="text" value="7 days"' in html


def test_an_unreadable_duration_is_refused_next_to_its_field_and_the_old_value_kept(journey, marketer):
    response = post_form(journey, marketer, "wait.delay", {"seconds": 3600}, **{"cfg-seconds": "7 dayz"})
    html = response.content.decode()
    field = html.split('data-field="seconds"')[1].split("data-field=")[0]
    assert "&#x27;dayz&#x27; is not a unit of time" in field
    assert 'value="7 dayz"' in field  # what was typed stays, to be corrected
    assert json.loads(response.context["config_json"])["seconds"] == 3600


def test_a_duration_out_of_bounds_says_so_as_a_duration(journey, marketer):
    html = post_form(journey, marketer, "wait.delay", {}, **{"cfg-seconds": "400 days"}).content.decode()
    assert "400 days is longer than the maximum, 366 days." in html


def test_fallback_channels_are_an_ordered_picker_of_the_workspaces_channels(journey, marketer, workspace):
    Channel.objects.filter(workspace=workspace, kind="viber").update(status=Channel.Status.DISABLED)
    config = {"channel": "sms", "template": {"en": "Hi"}}
    # chosen in this order
    response = post_form(journey, marketer, "message.send", config,
                         **{"cfg-fallback-list": "1", "cfg-fallback": ["whatsapp", "email"]})  # fmt: skip
    assert json.loads(response.context["config_json"])["fallback"] == ["whatsapp", "email"]
    html = response.content.decode()
    picker = html.split('data-field="fallback"')[1].split("data-field=")[0]
    assert picker.index('value="whatsapp"') < picker.index('value="email"')
    assert "Move WhatsApp up" in picker and "Remove Email" in picker
    adder = picker.split("data-channel-add")[1].split("</select>")[0]
    assert 'value="rcs"' in adder and 'value="whatsapp"' not in adder  # only those not chosen yet
    assert 'value="viber"' not in adder  # not an active channel of the workspace
    # every one removed: the list is empty, not kept
    response = post_form(journey, marketer, "message.send", {**config, "fallback": ["sms"]},
                         **{"cfg-fallback-list": "1"})  # fmt: skip
    assert "fallback" not in json.loads(response.context["config_json"])
