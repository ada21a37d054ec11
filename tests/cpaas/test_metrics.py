"""/metrics: Prometheus text, protected (a bearer token from settings, or this host only), with
the product's own figures counting as work happens, in one process and across processes
(PROMETHEUS_MULTIPROC_DIR: the dispatcher's counts appear at the web process's /metrics)."""

import urllib.request

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from channels_app.services.dispatch import dispatch_pending
from channels_app.services.messages import message_send
from tests.factories import ContactFactory
from tests.topology import Topology, wait_for


def scrape(text: str) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_are_for_this_host_only_without_a_token_and_for_the_token_with_one(settings):
    assert Client(REMOTE_ADDR="10.0.0.7").get("/metrics").status_code == 403
    local = Client().get("/metrics")  # the test client comes from 127.0.0.1
    assert local.status_code == 200 and local["Content-Type"].startswith("text/plain")
    settings.METRICS_TOKEN = "s3cret-metrics"
    assert Client().get("/metrics").status_code == 403  # with a token, the host is not enough
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/metrics").status_code == 403
    response = Client(
        REMOTE_ADDR="10.0.0.7", HTTP_HOST="10.0.0.1:8000", HTTP_AUTHORIZATION="Bearer s3cret-metrics"
    ).get("/metrics")
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_products_metrics_count_sends_api_requests_and_the_backlog(
    workspace, api, api_token, django_capture_on_commit_callbacks
):
    before = scrape(Client().get("/metrics").content.decode())
    # given two messages queued and one API request
    contact = ContactFactory(workspace=workspace)
    for text in ("One", "Two"):
        message_send(
            workspace=workspace, contact=contact, channel="sms", content={"text": text}, now=timezone.now()
        )
    assert api.get("/api/v1/contacts/").status_code == 200
    queued = scrape(Client().get("/metrics").content.decode())
    assert value(queued, "cpaas_dispatch_backlog_messages") == 2
    assert value(queued, "cpaas_api_requests_total", token=str(api_token.pk)) == (
        value(before, "cpaas_api_requests_total", token=str(api_token.pk)) + 1
    )
    # when the dispatcher hands them to the provider
    with django_capture_on_commit_callbacks(execute=True):  # status changes count at commit
        dispatch_pending(now=timezone.now())
    after = scrape(Client().get("/metrics").content.decode())
    # then they are counted as accepted on SMS, as status changes, and the backlog is empty
    accepted = ("cpaas_dispatch_results_total", {"kind": "sms", "outcome": "accepted"})
    assert value(after, accepted[0], **accepted[1]) == value(before, accepted[0], **accepted[1]) + 2
    sent = [
        v
        for (name, labels), v in after.items()
        if name == "cpaas_message_status_changes_total" and ("status", "sent") in labels
    ]
    was = [
        v
        for (name, labels), v in before.items()
        if name == "cpaas_message_status_changes_total" and ("status", "sent") in labels
    ]
    assert sum(sent) == sum(was) + 2
    assert value(after, "cpaas_dispatch_backlog_messages") == 0
    assert value(after, "cpaas_engine_lag_seconds") == 0
    assert any(name.startswith("django_http_requests_total") for name, _ in after)  # django-prometheus


@pytest.mark.django_db(transaction=True)
def test_the_dispatchers_counts_reach_the_web_processes_metrics(workspace, tmp_path):
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    contact = ContactFactory(workspace=workspace)
    with Topology(tmp_path, web=1, dispatcher=1, env=env) as topology:

        def accepted() -> float:
            with urllib.request.urlopen(topology.web[0] + "/metrics", timeout=30) as response:
                samples = scrape(response.read().decode())
            return value(samples, "cpaas_dispatch_results_total", kind="sms", outcome="accepted")

        assert accepted() == 0
        # when a message is sent: the dispatcher process hands it over
        message_send(
            workspace=workspace, contact=contact, channel="sms", content={"text": "Hi"}, now=timezone.now()
        )
        # then the web process's /metrics counts it
        assert wait_for(lambda: accepted() == 1, timeout=60), topology.log("dispatcher1")[-2000:]
        topology.assert_alive()


@pytest.mark.django_db
def test_the_documented_dashboard_asks_only_for_metrics_that_exist(workspace):
    import json
    import re

    from tests.conftest import ROOT

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    asked = {
        m
        for p in dashboard["panels"]
        for t in p["targets"]
        for m in re.findall(r"\bcpaas_[a-z_]+", t["expr"])
    }
    # counters appear once something was counted: count one of each
    message_send(workspace=workspace, contact=ContactFactory(workspace=workspace), channel="sms",
                 content={"text": "x"}, now=timezone.now())  # fmt: skip
    from cpaas import metrics

    metrics.dispatch_result(kind="sms", provider="sandbox", outcome="failed", code="30003")
    metrics.STATUS_CHANGES.labels("sent", "test").inc(0)
    metrics.API_REQUESTS.labels("0").inc(0)
    exposed = {name for name, _ in scrape(Client().get("/metrics").content.decode())}
    assert asked and asked <= exposed, asked - exposed
