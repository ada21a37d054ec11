"""Realtime in the scale-out topology: two web processes and a task worker. An event published
by the worker, or by a request to one web process, reaches a browser connected to the other web
process (in the Redis-mode pass through the real redis-server's channel layer; in embedded mode
through each web process's relay)."""

import pytest
from django.test import Client
from django_q.conf import Conf
from playwright.sync_api import expect

from contacts.imports import import_start, import_upload
from cpaas.tenancy import Actor
from tests.topology import Topology

pytestmark = pytest.mark.django_db(transaction=True)


def test_events_reach_a_browser_on_the_other_web_process(
    context, marketer, workspace, api_token, monkeypatch, tmp_path
):
    client = Client()
    client.force_login(marketer)
    with Topology(tmp_path, web=2, worker=1) as topology:
        first, second = topology.web
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}
                             for url in (first, second)])  # fmt: skip
        # given the contact list open on the second web process, connected live
        page = context.new_page()
        page.goto(second + "/contacts/")
        expect(page.locator("html[data-live=connected]")).to_have_count(1)

        # when the task worker writes a contact (an import queued for it, not run in this process)
        monkeypatch.setattr(Conf, "SYNC", False)
        upload = import_upload(
            workspace=workspace, actor=Actor.for_user(marketer), filename="one.csv",
            content=b"first_name,last_name,phone\nWorker,Made,07911 123888\n",
        )  # fmt: skip
        import_start(contact_import=upload, actor=Actor.for_user(marketer), mapping=upload.mapping)
        # then it appears on the page without a reload
        expect(page.locator("#results tbody tr").first).to_contain_text("Worker Made", timeout=20000)

        # and when a request to the FIRST web process creates a contact, the second's page shows it
        response = page.request.post(
            first + "/api/v1/contacts/",
            headers={"Authorization": f"Bearer {api_token.key}"},
            data={"first_name": "Api", "last_name": "Made", "phone": "+447911123999"},
        )
        assert response.status == 201, response.text()
        expect(page.locator("#results")).to_contain_text("Api Made", timeout=20000)
        topology.assert_alive()
