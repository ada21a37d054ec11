"""Realtime across processes in embedded mode: a contact written by a task in the worker process
appears on a contact list open in the browser, through the relay of the web process."""

import pytest
from django_q.conf import Conf
from playwright.sync_api import expect

from contacts.imports import import_start, import_upload
from cpaas.tenancy import Actor

pytestmark = pytest.mark.django_db(transaction=True)


def test_contact_created_by_a_worker_task_appears_on_the_open_list(
    server, login, marketer, workspace, monkeypatch
):
    # given the contact list open in the browser, connected live
    page = login(marketer, "/contacts/")
    expect(page.locator("html[data-live=connected]")).to_have_count(1)
    expect(page.locator("#results")).not_to_contain_text("Worker Made")

    # when an import is queued for the worker process (not run inline in this test process)
    monkeypatch.setattr(Conf, "SYNC", False)
    upload = import_upload(
        workspace=workspace,
        actor=Actor.for_user(marketer),
        filename="one.csv",
        content=b"first_name,last_name,phone\nWorker,Made,07911 123888\n",
    )
    import_start(contact_import=upload, actor=Actor.for_user(marketer), mapping=upload.mapping)

    # then the worker's new contact appears without a reload, with the import's banner
    expect(page.locator("#results tbody tr").first).to_contain_text("Worker Made", timeout=15000)
    expect(page.locator("#live-banner")).to_contain_text("imported", timeout=5000)
    server.assert_alive()
