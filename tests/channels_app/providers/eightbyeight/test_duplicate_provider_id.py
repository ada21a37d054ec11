"""A provider (or a proxy in front of it) that answers a send with an id another message already
has: the dispatcher cannot tell whether this message went, so it is `unknown` with the reason,
never a crash on the unique (channel, provider id) and never sent again."""

import pytest

from channels_app.models import Message
from channels_app.providers.eightbyeight.fake import payload

from ...conftest import drain
from ..helpers import fresh, send

pytestmark = pytest.mark.django_db
S = Message.Status


def test_an_id_another_message_has_makes_the_outcome_unknown(workspace, contact, eightbyeight, fake):
    answer = payload("sms_accepted.json")
    fake.answer_next(200, answer)
    first = send(workspace, contact, idempotency_key="a")
    drain(0)
    fake.answer_next(200, answer)  # replayed: the same umid again
    second = send(workspace, contact, idempotency_key="b")
    for second_at in (0, 10, 600):
        drain(second_at)
    assert (fresh(first).status, fresh(first).provider_message_id) == (S.SENT, answer["umid"])
    m = fresh(second)
    assert (m.status, m.error_code) == (S.UNKNOWN, "duplicate_id")
    assert answer["umid"] in m.error_reason and "not sent again" in m.error_reason
    assert m.provider_message_id is None
    assert len(fake.sends()) == 2
