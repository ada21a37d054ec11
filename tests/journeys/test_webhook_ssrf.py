"""webhook.call refuses URLs whose host resolves to a private, loopback or link-local address
(SSRF), checked at call time, on every redirect, with an allowlist; the contact takes the
failure exit with the reason."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from journeys.engine.webhooks import Refused, http_call, resolve_checked
from journeys.models import Enrollment, Step
from tests.journeys.conftest import graph, node


class Redirecting(BaseHTTPRequestHandler):
    target = ""
    hits = 0

    def do_GET(self):
        type(self).hits += 1
        self.send_response(302)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def redirecting_server():
    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    Redirecting.hits = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://[::1]:8080/", "http://localhost/",
     "http://[::ffff:192.168.0.1]/", "http://0.0.0.0/", "http://100.64.0.7/", "http://[fd00::1]/",
     "http://224.0.0.1/", "file:///etc/passwd"],
)  # fmt: skip
def test_private_loopback_and_link_local_addresses_are_refused(settings, url):
    settings.JOURNEYS_WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(Refused):
        resolve_checked(url)


def test_a_public_address_may_be_called(settings):
    settings.JOURNEYS_WEBHOOK_ALLOWED_NETWORKS = []
    assert resolve_checked("https://93.184.216.34/hook") == ("93.184.216.34", 443, "93.184.216.34")


def test_the_allowlist_lets_a_network_through(settings):
    settings.JOURNEYS_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert resolve_checked("http://10.1.2.3:8080/x")[2] == "10.1.2.3"
    with pytest.raises(Refused):
        resolve_checked("http://192.168.1.1/")


def test_a_redirect_to_a_private_address_is_refused(redirecting_server):
    # the fake server is on 127.0.0.1 (allowed in the test settings); it redirects inside
    Redirecting.target = "http://169.254.169.254/latest/meta-data/"
    result = http_call({"method": "GET", "url": redirecting_server + "/x", "retries": 2, "timeout_s": 2})
    assert result["status"] is None and result["error"].startswith("refused: 169.254.169.254")
    assert Redirecting.hits == 1  # a refusal is not retried


def test_the_contact_takes_the_failure_exit_with_the_reason(
    settings, workspace, publish, fire, engine, contact
):
    settings.JOURNEYS_WEBHOOK_ALLOWED_NETWORKS = []
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="hook"),
              hook=node("webhook.call", {"method": "GET", "url": "http://127.0.0.1:9/admin", "timeout_s": 1},
                        success=None, failure=None))  # fmt: skip
    journey = publish(g)
    fire(contact, "signup")
    engine()
    e = Enrollment.objects.get(journey=journey, contact=contact)
    step = Step.objects.get(enrollment=e, node="hook")
    assert e.status == "completed" and step.exit == "failure"
    assert "refused: 127.0.0.1 resolves to 127.0.0.1" in step.detail["reason"]
