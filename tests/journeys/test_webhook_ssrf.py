"""webhook.call refuses URLs whose host resolves to a private, loopback or link-local address
(SSRF), checked at call time, on every redirect, with an allowlist; the contact takes the
failure exit with the reason."""

import ipaddress
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


# Each IPv6 form that carries an IPv4 address inside it, with a non-public IPv4 inside: refused,
# whatever Python's ipaddress thinks of the IPv6 address as a whole (6to4 counts as global).
@pytest.mark.parametrize(
    "address",
    ["2002:7f00:1::1",                           # 6to4 of 127.0.0.1
     "2002:a9fe:a9fe::",                         # 6to4 of 169.254.169.254
     "2002:c0a8:1::5",                           # 6to4 of 192.168.0.1
     "2001:0:4136:e378:8000:63bf:80ff:fffe",     # Teredo, client 127.0.0.1
     "2001:0:7f00:1:0:0:f7f7:f7f7",              # Teredo, server 127.0.0.1 client 8.8.8.8
     "64:ff9b::7f00:1",                          # NAT64 well-known prefix, 127.0.0.1
     "64:ff9b::a9fe:a9fe",                       # NAT64 well-known prefix, 169.254.169.254
     "64:ff9b:1::7f00:1",                        # NAT64 local-use prefix
     "64:ff9b:1:7f00:1::",                       # NAT64 local-use prefix, /48 layout
     "::ffff:127.0.0.1",                         # IPv4-mapped
     "::ffff:10.0.0.1",                          # IPv4-mapped
     "::127.0.0.1",                              # IPv4-compatible (deprecated)
     "::8.8.8.8",                                # IPv4-compatible, even of a public address
     "::ffff:0:127.0.0.1"],                      # IPv4-translated (SIIT)
)  # fmt: skip
def test_ipv6_forms_embedding_a_non_public_ipv4_are_refused(settings, address):
    settings.JOURNEYS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "10.0.0.0/8"]  # IPv4 allowlist only
    with pytest.raises(Refused, match="refused"):
        resolve_checked(f"http://[{address}]/hook")


@pytest.mark.parametrize(
    "address",
    ["2002:808:808::1",        # 6to4 of 8.8.8.8
     "64:ff9b::808:808",       # what DNS64 synthesises for 8.8.8.8 on an IPv6-only network
     "::ffff:8.8.8.8",         # IPv4-mapped public
     "2606:4700:4700::1111"],  # plain public IPv6
)  # fmt: skip
def test_ipv6_forms_embedding_a_public_ipv4_may_be_called(settings, address):
    settings.JOURNEYS_WEBHOOK_ALLOWED_NETWORKS = []
    assert ipaddress.ip_address(resolve_checked(f"http://[{address}]/hook")[2]) == ipaddress.ip_address(
        address
    )
