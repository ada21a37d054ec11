"""webhook.call's HTTP request, made after the round that asked for it committed (never while
holding a lock), then recorded as the enrolment's resume signal if it still waits for it.

Against SSRF: `cpaas.outbound` checks every address the host resolves to at call time (public
only, unless in `JOURNEYS_WEBHOOK_ALLOWED_NETWORKS`; tests allow 127.0.0.1) and the connection
goes to the checked address; no proxy from the environment is used, and each redirect (at most
3) is checked the same way. A refused call takes the failure exit with the reason."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cpaas import outbound
from cpaas.jsoninput import json_parse
from cpaas.outbound import Refused

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


def _allowed_networks() -> list:
    return outbound.networks(getattr(settings, "JOURNEYS_WEBHOOK_ALLOWED_NETWORKS", []))


def resolve_checked(url: str) -> tuple[str, int, str]:
    """(host, port, the address to connect to), or Refused: see cpaas.outbound."""
    return outbound.resolve_checked(
        url, allowed=_allowed_networks(), setting="JOURNEYS_WEBHOOK_ALLOWED_NETWORKS"
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # _once follows redirects itself, checking each target


def _opener(address: str):
    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(functools.partial(outbound.PinnedHTTP, address=address), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(
                functools.partial(outbound.PinnedHTTPS, address=address), req, context=self._context
            )

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
