"""webhook.call's HTTP request, made after the round that asked for it committed (never while
holding a lock), then recorded as the enrolment's resume signal if it still waits for it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request

from django.db import transaction
from django.utils import timezone

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
        transient = status is None or status >= 500 or status == 429
        if not transient or attempt == attempts - 1:
            break
        time.sleep(min(1.0, 0.2 * (attempt + 1)))
    return result


def _once(request: dict) -> dict:
    body = None
    headers = {"User-Agent": "cpaas-journeys/1", **(request.get("headers") or {})}
    if request.get("body") is not None and request["method"] not in ("GET", "HEAD"):
        body = json.dumps(request["body"]).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(request["url"], data=body, method=request["method"], headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=min(10.0, float(request.get("timeout_s", 5)))) as resp:
            return {"status": resp.status, "json": _parse(resp.read(MAX_BODY))}
    except urllib.error.HTTPError as exc:
        return {
            "status": exc.code,
            "json": _parse(exc.read(MAX_BODY) if exc.fp else b""),
            "error": f"HTTP {exc.code}",
        }
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        return {
            "status": None,
            "json": None,
            "error": f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:300],
        }


def _parse(raw: bytes):
    try:
        return json.loads(raw.decode() or "null")
    except (UnicodeDecodeError, ValueError):
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
