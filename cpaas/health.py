"""Health for load balancers, supervisors and operators: `/healthz` (this process answers) and
`/readyz` (the database, Redis when configured, the engine's and dispatcher's heartbeats, the
timers' lag and the dispatch backlog, each under its threshold). JSON, no authentication, and
nothing sensitive in it: no host names, addresses, URLs, error texts or workspace data, only
names, counts, seconds and ok / failing.

Apps above cpaas add their measures with `register(name, probe)` at start-up (journeys: the
timers' lag; channels_app: the dispatch backlog), as `cpaas.backlog` does per workspace.
`HealthMiddleware` answers both paths first in the stack, before the host check and the HTTPS
redirect, so a probe by IP address over plain HTTP inside the network gets its answer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

# probe(now) -> seconds (or a count) to compare with the limit in settings.HEALTH_LIMITS[name]
_probes: dict[str, Callable[[dt.datetime], float]] = {}


def register(name: str, probe: Callable[[dt.datetime], float]) -> None:
    _probes[name] = probe


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # the class only: an error text may name hosts or users
        return {"ok": False, "error": type(exc).__name__}


def _redis() -> dict:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def _loops(now: dt.datetime) -> dict:
    """Each required loop kind is up when at least one of its processes beat recently."""
    from .models import Heartbeat

    stale = now - dt.timedelta(seconds=settings.HEALTH_HEARTBEAT_STALE_S)
    rows = Heartbeat.objects.filter(kind__in=settings.HEALTH_REQUIRED_LOOPS).values_list("kind", "beat_at")
    newest: dict[str, dt.datetime] = {}
    alive: dict[str, int] = {}
    for kind, beat_at in rows:
        newest[kind] = max(newest.get(kind, beat_at), beat_at)
        alive[kind] = alive.get(kind, 0) + (beat_at >= stale)
    return {
        kind: {
            "ok": alive.get(kind, 0) > 0,
            "processes": alive.get(kind, 0),
            "last_beat_s": round((now - newest[kind]).total_seconds(), 1) if kind in newest else None,
        }
        for kind in settings.HEALTH_REQUIRED_LOOPS
    }


def readiness(now: dt.datetime | None = None) -> dict:
    """The report `/readyz` answers and `manage.py serve` prints: {"status": "ok" | "unhealthy",
    "checks": {name: {"ok": bool, ...}}}."""
    now = now or timezone.now()
    checks: dict[str, dict] = {"database": _database()}
    if settings.REDIS_URL:
        checks["redis"] = _redis()
    if checks["database"]["ok"]:
        try:
            for kind, state in _loops(now).items():
                checks[f"loop.{kind}"] = state
            for name, probe in sorted(_probes.items()):
                value, limit = float(probe(now)), settings.HEALTH_LIMITS[name]
                checks[name] = {"ok": value <= limit, "value": round(value, 1), "limit": limit}
        except Exception as exc:
            checks["database"] = {"ok": False, "error": type(exc).__name__}
    ok = all(check["ok"] for check in checks.values())
    return {"status": "ok" if ok else "unhealthy", "checks": checks}


def _json(body: dict, status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def healthz(request) -> HttpResponse:
    """The process is up and answering (no database: a restart would not cure a database outage)."""
    return _json({"status": "ok"}, 200)


def readyz(request) -> HttpResponse:
    report = readiness()
    return _json(report, 200 if report["status"] == "ok" else 503)


def metrics(request) -> HttpResponse:
    from .metrics import metrics_view

    return metrics_view(request)


# /metrics too: Prometheus scrapes by address, which the host check would refuse
PATHS = {
    "/healthz": healthz,
    "/healthz/": healthz,
    "/readyz": readyz,
    "/readyz/": readyz,
    "/metrics": metrics,
}


class HealthMiddleware:
    """First in MIDDLEWARE: answers GET /healthz, /readyz and /metrics before anything checks the Host
    header, redirects to HTTPS, opens a session or counts a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PATHS.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
