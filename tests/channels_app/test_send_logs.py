"""Logs keep personal data out (cpaas/logs.py): a send whose provider refuses it, quoting the
number, leaves a log line with the message id and the provider's code, and no phone number, email
or message text; every line carries the request id of the request that caused it."""

import io
import json
import logging
import logging.config

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from channels_app.models import Message
from channels_app.services.messages import message_send
from cpaas.logs import mask

from .conftest import at, drain

PHONE = "+447911123456"
TEXT = "Your secret parcel code is HORSE"


@pytest.fixture
def json_log():
    """The console handler as production configures it (its filters, the JSON formatter), writing
    to a buffer: what an operator's log pipeline would receive."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    spec = settings.LOGGING
    for name in spec["handlers"]["console"]["filters"]:
        handler.addFilter(import_string(spec["filters"][name]["()"])())
    json_spec = spec["formatters"]["json"]
    handler.setFormatter(
        import_string(json_spec["()"])(json_spec["format"], rename_fields=json_spec["rename_fields"])
    )
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_a_refused_sends_log_line_has_no_phone_number_or_text(workspace, contact, twilio, fake, json_log):
    # given Twilio refusing the number, in words that quote it (as its 21211 answer does)
    fake.answer_next(400, "error_21211.json")
    message = message_send(
        workspace=workspace, contact=contact, channel="sms", content={"text": TEXT}, now=at(0)
    )
    # when the dispatcher hands it over
    drain(0)
    assert Message.objects.get(pk=message.pk).error_code == "21211"
    # then the log has the line, with the message id and the code, as JSON...
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    refused = [line for line in lines if "not accepted" in line["message"]]
    assert len(refused) == 1, lines
    assert f"message {message.pk} " in refused[0]["message"] and "21211" in refused[0]["message"]
    assert {"time", "level", "logger", "request_id"} <= set(refused[0])
    # ...and nothing personal anywhere in the log
    text = json_log.getvalue()
    for secret in (PHONE, PHONE[1:], "7911 123456", "+4479111234XX", contact.email, TEXT, "HORSE"):
        assert secret not in text, secret
    assert "[phone]" in refused[0]["message"]


@pytest.mark.parametrize(
    "line, kept",
    [
        ("to +44 7911 123456 via whatsapp:+447911123456", "to [phone] via whatsapp:[phone]"),
        ("call 07911 123456 or 00447911123456", "call [phone] or [phone]"),
        ('{"to": "447911123456", "text": {"body": "Hi \\"Ada\\" ok"}}', '{"to": "[phone]", "text": {"body": "[text]"}}'),
        ("To=%2B447911123456&Body=Hello+there&From=x", "To=[phone]&Body=[text]&From=x"),
        ("ada.lovelace+1@example.co.uk wrote", "[email] wrote"),
        # not personal: times, ids, addresses of servers, durations
        ("2026-12-04T23:18:05.123+00:00 message 123456 pid 4242 127.0.0.1:8000 took 1.25 s",
         "2026-12-04T23:18:05.123+00:00 message 123456 pid 4242 127.0.0.1:8000 took 1.25 s"),
    ],
)  # fmt: skip
def test_mask(line, kept):
    assert mask(line) == kept


def test_an_exceptions_text_is_masked_too(json_log):
    try:
        raise ValueError(f"provider refused {PHONE}: {{'text': '{TEXT}'}}")
    except ValueError:
        logging.getLogger("channels_app.services.dispatch").exception("provider failed")
    assert PHONE not in json_log.getvalue() and TEXT not in json_log.getvalue()
    assert "provider refused [phone]" in json_log.getvalue()


def log_from_a_task():
    logging.getLogger("tests.task").info("the task ran")


@pytest.mark.django_db
def test_the_request_id_is_answered_and_carried_into_the_tasks_it_enqueues(admin_client, json_log):
    from django_q.tasks import async_task

    from cpaas.logs import request_id

    # a request's id is the caller's X-Request-ID when usable, else a fresh one, answered back
    assert admin_client.get("/contacts/", HTTP_X_REQUEST_ID="req-abc-123")["X-Request-ID"] == "req-abc-123"
    assert len(admin_client.get("/contacts/", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]) == 32
    # a task enqueued while handling a request logs with that request's id in the worker
    token = request_id.set("req-abc-123")
    try:
        async_task(
            f"{__name__}.log_from_a_task"
        )  # inline in tests (Q_CLUSTER sync), through the worker's code
    finally:
        request_id.reset(token)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert [line["request_id"] for line in lines if line["message"] == "the task ran"] == ["req-abc-123"]
