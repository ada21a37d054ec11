"""webhook.call's HTTP request, made after the round that asked for it committed (never while
holding a lock), then recorded as the enrolment's resume signal if it still waits for it.

Against SSRF: the host is resolved at call time and every address it resolves to must be
globally routable (not private, shared, loopback, link-local, unique-local, multicast, reserved
or unspecified; an IPv6 form that embeds an IPv4 address, such as 6to4, NAT64 or IPv4-mapped, is
judged by the IPv4 inside it) unless it is in `JOURNEYS_WEBHOOK_ALLOWED_NETWORKS` (CIDRs; tests allow 127.0.0.1). The connection is
made to the address that was checked (no second lookup a rebinding DNS could answer
differently), no proxy from the environment is used, and each redirect is checked the same way
(at most 3). A refused call takes the failure exit with the reason."""

from __future__ import annotations

import datetime as dt
import functools
import http.client
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cpaas.jsoninput import json_parse

from ..models import Enrollment

log = logging.getLogger("journeys.webhooks")
MAX_BODY = 256 * 1024


def http_call(request: dict) -> dict:
    """{"status": int | None, "json": parsed answer or None, "error": text}; retries transient
    failures (connection errors, 5xx, 429) `retries` times for idempotent methods."""
    attempts = 1 + int(request.get("retries", 0))
    result: dict = {}
    for attempt in range(attempts):
        result = _once(request)
        status = result.get("status")
        if result.get("refused"):
            break  # not an outage: asking again gives the same answer
        transient = status is None or status >= 500 or status == 429
        if not transient or attempt == attempts - 1:
            break
        time.sleep(min(1.0, 0.2 * (attempt + 1)))
    return result


class Refused(Exception):
    """The URL may not be called (scheme, or an address that is not public)."""


def _allowed_networks() -> list:
    return [
        ipaddress.ip_network(n, strict=False)
        for n in getattr(settings, "JOURNEYS_WEBHOOK_ALLOWED_NETWORKS", [])
    ]


# IPv6 forms that carry an IPv4 address. A host may route them to that IPv4 (a 6to4 or NAT64
# gateway, a dual-stack socket), so they are judged by the IPv4 inside: Python calls 6to4 global
# even when it wraps 127.0.0.1.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # DNS64 answers these on IPv6-only hosts
# Refused whatever they carry: NAT64's local-use prefix (RFC 8215, never global; its layout hides
# the IPv4 around the u-octet), Teredo (relayed, its client IPv4 obfuscated), IPv4-compatible
# (deprecated by RFC 4291) and IPv4-translated (SIIT) addresses.
ALWAYS_REFUSED_V6 = [
    ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "2001::/32", "::/96", "::ffff:0:0:0/96")
]


def _public(ip) -> bool:
    """Globally routable (IANA's special-purpose ranges excluded: private, shared 100.64/10,
    loopback, link-local, unique-local, documentation...) and not multicast; an IPv6 address
    that embeds an IPv4 address is judged by that IPv4 address too."""
    if ip.version == 6:
        if any(ip in net for net in ALWAYS_REFUSED_V6):
            return False
        if ip.ipv4_mapped is not None:
            return _public(ip.ipv4_mapped)
        if ip in NAT64_WELL_KNOWN:
            return _public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None and not _public(ip.sixtofour):
            return False
    special = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
    return ip.is_global and not special and not ip.is_unspecified


def resolve_checked(url: str) -> tuple[str, int, str]:
    """(host, port, the address to connect to) for an http(s) URL whose host resolves only to
    addresses that may be called; Refused otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"refused: only http and https URLs can be called ({url[:80]})")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"could not resolve {parts.hostname}: {exc}") from exc
    allowed = _allowed_networks()
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _public(ip) and not any(ip in net for net in allowed):
            raise Refused(
                f"refused: {parts.hostname} resolves to {ip}, a private, loopback or link-local address "
                "(allow it with JOURNEYS_WEBHOOK_ALLOWED_NETWORKS)"
            )
        addresses.append(str(ip))
    return parts.hostname, port, addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, *args, address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args, address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # the name is still verified


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # _once follows redirects itself, checking each target


def _opener(address: str):
    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(functools.partial(_PinnedHTTP, address=address), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(functools.partial(_PinnedHTTPS, address=address), req, context=self._context)

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), HTTP, HTTPS, _NoRedirects)


MAX_REDIRECTS = 3


def _once(request: dict) -> dict:
    body = None
    headers = {"User-Agent": "cpaas-journeys/1", **(request.get("headers") or {})}
    if request.get("body") is not None and request["method"] not in ("GET", "HEAD"):
        body = json.dumps(request["body"]).encode()
        headers.setdefault("Content-Type", "application/json")
    url, method = request["url"], request["method"]
    timeout = min(10.0, float(request.get("timeout_s", 5)))
    for _ in range(MAX_REDIRECTS + 1):
        try:
            _, _, address = resolve_checked(url)
        except Refused as exc:
            return {"status": None, "json": None, "error": str(exc)[:300], "refused": True}
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        result = _send(_opener(address), req, timeout)
        location = result.pop("location", None)
        if result.get("status") not in (301, 302, 303, 307, 308) or not location:
            return result
        url = urllib.parse.urljoin(url, location)
        if result["status"] == 303 or (result["status"] in (301, 302) and method == "POST"):
            method, body = "GET", None
    return {"status": None, "json": None, "error": f"more than {MAX_REDIRECTS} redirects"}


def _send(opener, req, timeout: float) -> dict:
    try:
        with opener.open(req, timeout=timeout) as resp:
            return {"status": resp.status, "json": _parse(resp.read(MAX_BODY))}
    except urllib.error.HTTPError as exc:
        return {
            "status": exc.code,
            "json": _parse(exc.read(MAX_BODY) if exc.fp else b""),
            "error": f"HTTP {exc.code}",
            "location": exc.headers.get("Location") if exc.headers else None,
        }
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        return {
            "status": None,
            "json": None,
            "error": f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:300],
        }


def _parse(raw: bytes):
    try:
        return json_parse(raw or b"null")
    except ValueError:
        return None


def call_and_record(
    enrollment_id: int, token: int, request: dict | None, *, now: dt.datetime | None = None
) -> bool:
    result = http_call(request) if request else {"status": None, "error": "no request"}
    return webhook_result_record(enrollment_id=enrollment_id, token=token, result=result, now=now)


@transaction.atomic
def webhook_result_record(
    *, enrollment_id: int, token: int, result: dict, now: dt.datetime | None = None
) -> bool:
    now = now or timezone.now()
    e = Enrollment.objects.select_for_update().filter(pk=enrollment_id).first()
    if (
        e is None
        or e.status != Enrollment.Status.WAITING
        or e.wait_kind != "webhook"
        or e.resume_token != token
        or e.resume
    ):
        return False  # it moved on (timed out, cancelled): the answer is too late
    Enrollment.objects.filter(pk=e.pk).update(
        resume={"kind": "webhook", "token": token, "data": result}, due_at=now
    )
    return True
