"""Searching "#12" in the inbox list finds conversation 12 by its number alone, without reading
every message's text (bench/inbox.py: 2 s over 1,000,000 messages)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_app.services.messages import message_send
from inbox.selectors import Viewer, conversation_list
from tests.factories import ContactFactory
from tests.inbox.panel_helpers import conversation, queue

pytestmark = pytest.mark.django_db


def test_a_hash_number_finds_that_conversation_only(workspace, admin_user):
    q = queue(workspace, "support")
    twelve = conversation(workspace, ContactFactory(workspace=workspace), q, number=12)
    quoting = conversation(workspace, ContactFactory(workspace=workspace), q, number=13)
    message_send(
        workspace=workspace,
        contact=quoting.contact,
        channel="sms",
        content={"text": "about order #12"},
        sent_by="person",  # an agent's reply: the search reads those (and inbound), not automated sends
    )
    viewer = Viewer.for_member(workspace, admin_user, "admin")
    with CaptureQueriesContext(connection) as captured:
        found = list(conversation_list(viewer, filters={"q": "#12"}))
    assert found == [twelve]
    assert "channels_app_message" not in captured.captured_queries[0]["sql"]
    # without the hash, the words are looked for everywhere, message text included
    assert set(conversation_list(viewer, filters={"q": "order #12"})) == {quoting}
