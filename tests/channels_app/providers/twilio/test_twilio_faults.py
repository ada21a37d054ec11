"""Twilio (a local server playing it) accepts a message, then the answer goes wrong: it comes
slower than the deadline, the connection is reset after the request was read, or the headers
drip in a byte at a time. Twilio takes no idempotency key, so the honest outcome is `unknown`:
exactly one request per message reaches Twilio whatever runs later, the message says why, the
call ends by its total deadline (the client leaves while the server is still busy), and Twilio's
status callback (it carries our reference) settles it."""

import urllib.parse

import pytest
from django.test import override_settings

from channels_app.models import Message

from ...conftest import drain
from .fake import ACCOUNT_SID
from .test_twilio import fresh, send, signed_post

pytestmark = pytest.mark.django_db
S = Message.Status
FAULTS = {"slow": 3.0, "reset": 0, "drip": 0.05}  # fault -> fault_s (drip: per byte, ~12 s in all)


@pytest.mark.parametrize("fault", list(FAULTS))
@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_an_ambiguous_answer_is_unknown_never_sent_twice_and_within_the_deadline(
    workspace, contact, twilio, fake, fault
):
    # given two messages, and Twilio that takes each but answers badly
    fake.fault, fake.fault_s = fault, FAULTS[fault]
    messages = [send(workspace, contact, idempotency_key=f"k{i}") for i in range(2)]

    # when the dispatcher hands them over
    drain(0)

    # then each call ended by its deadline: the client left before any answer was complete
    assert fake.answered == 0, "the dispatcher waited for a whole answer"
    # each message is unknown, with the reason, and Twilio got exactly one request for it
    for message in messages:
        m = fresh(message)
        assert m.status == "unknown", (m.status, m.error_code, m.error_reason)
        assert "not sent again" in m.error_reason
        assert m.status_events.filter(status="unknown", source="dispatcher").count() == 1
        assert not m.status_events.filter(status=S.SENT).exists()
    fake.fault = ""
    for second in (10, 60, 600, 3600):  # retries, recoveries, sweeps: nothing sends it again
        drain(second)
    refs = [
        urllib.parse.parse_qs(urllib.parse.urlparse(f["StatusCallback"]).query)["ref"][0]
        for f in fake.messages()
    ]
    assert sorted(refs) == sorted(m.reference for m in messages)
    assert {fresh(m).status for m in messages} == {"unknown"}


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_twilios_status_callback_settles_an_unknown_message(client, workspace, contact, twilio, fake):
    fake.fault = "reset"
    message = send(workspace, contact)
    drain(0)
    assert fresh(message).status == "unknown"
    # the callback carries our reference in its URL: found without the SID we never got
    body = urllib.parse.urlencode(
        {"MessageSid": "SM" + "7" * 32, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    )
    assert (
        signed_post(client, twilio["sms"], "status", body, query=f"ref={message.reference}").status_code
        == 200
    )
    m = fresh(message)
    assert (m.status, m.provider_message_id, m.error_code) == (S.DELIVERED, "SM" + "7" * 32, "")


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_an_unknown_message_whose_sid_we_have_is_settled_by_asking_twilio(
    workspace, contact, twilio, fake, monkeypatch
):
    from channels_app.services import dispatch

    fake.fault = "reset"
    message = send(workspace, contact)
    drain(0)
    fake.fault = ""
    # given its SID became known (e.g. from a callback Twilio sent before it was queued)
    Message.objects.filter(pk=message.pk).update(provider_message_id="SM" + "8" * 32)
    # when the dispatcher next asks about unknown outcomes
    monkeypatch.setattr(dispatch, "_last_lookup", [0.0])
    drain(30)
    # then Twilio's answer settles it, and nothing was sent again
    assert fake.lookups == [f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{'SM' + '8' * 32}.json"]
    assert fresh(message).status == S.DELIVERED
    assert len(fake.messages()) == 1
