"""Prometheus metrics at `/metrics`: django-prometheus's request, response and database metrics
plus the product's own.

Counted where they happen (prometheus_client):
- `cpaas_message_status_changes_total{status,source}`: every message status change, counted by
  the one writer of statuses (channels_app/services/transitions.py) after its transaction commits;
- `cpaas_dispatch_results_total{kind,outcome}`: what providers answered the dispatcher, by channel
  kind (accepted, failed, retry, unknown): `rate()` of it is messages per second by channel;
- `cpaas_provider_errors_total{provider,code}`: the provider's error codes;
- `cpaas_api_requests_total{token}`: API requests by token id (cpaas/api/throttling.py);
- `cpaas_websocket_connections`: open live sockets (cpaas/consumers.py).
Read from the database at each scrape (the same in every process, cheap indexed reads):
- `cpaas_dispatch_backlog_messages`, `cpaas_dispatch_backlog_oldest_seconds`,
  `cpaas_engine_lag_seconds` (how long the oldest due enrolment has waited), `cpaas_timer_lateness_seconds`
  (the same for timers only), `cpaas_loop_processes{kind}` (processes beating).

Several processes: the dispatcher, engine and task worker have no HTTP server. Set
PROMETHEUS_MULTIPROC_DIR (an empty directory shared by every process of the host, created fresh
at each start; `make scale` does) and every process writes its counters there, and /metrics of
any web process adds them all up (prometheus_client's multiprocess mode). Without it, /metrics
shows the web process's own counters and the database figures, and each web process is scraped
on its own.

Who may read: with METRICS_TOKEN set, a request with `Authorization: Bearer <METRICS_TOKEN>`;
without it, only requests from this host (127.0.0.1 / ::1), for a Prometheus or agent beside it."""

from __future__ import annotations

import datetime as dt
import hmac
import os

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

STATUS_CHANGES = Counter(
    "cpaas_message_status_changes",
    "Message status changes, by new status and who made them",
    ["status", "source"],
)
DISPATCH_RESULTS = Counter(
    "cpaas_dispatch_results",
    "Provider answers to the dispatcher, by channel kind and outcome",
    ["kind", "outcome"],
)
PROVIDER_ERRORS = Counter("cpaas_provider_errors", "Provider error codes", ["provider", "code"])
API_REQUESTS = Counter("cpaas_api_requests", "API requests by token id", ["token"])
WEBSOCKETS = Gauge("cpaas_websocket_connections", "Open live websockets", multiprocess_mode="livesum")


def status_changed(*, status: str, source: str, count: int) -> None:
    """Counted once the change commits (a rolled-back change never happened)."""
    if count:
        transaction.on_commit(lambda: STATUS_CHANGES.labels(status, source).inc(count))


def dispatch_result(*, kind: str, provider: str, outcome: str, code: str = "") -> None:
    DISPATCH_RESULTS.labels(kind, outcome).inc()
    if code and outcome != "accepted":
        PROVIDER_ERRORS.labels(provider, code[:40]).inc()


class DatabaseCollector:
    """The figures read from the database at scrape time (cpaas.health's probes and heartbeats)."""

    def collect(self):
        from .health import _probes
        from .models import Heartbeat

        now = timezone.now()
        try:
            values = {name: float(probe(now)) for name, probe in _probes.items()}
            backlog = _backlog(now)
            stale = now - dt.timedelta(seconds=settings.HEALTH_HEARTBEAT_STALE_S)
            beating: dict[str, int] = {}
            for kind in Heartbeat.objects.filter(beat_at__gte=stale).values_list("kind", flat=True):
                beating[kind] = beating.get(kind, 0) + 1
        except Exception:  # the database is down: /readyz says so; the counters still answer
            return
        yield GaugeMetricFamily("cpaas_engine_lag_seconds", "Oldest due enrolment's wait for the engine",
                                value=values.get("engine.lag_s", 0.0))  # fmt: skip
        yield GaugeMetricFamily("cpaas_timer_lateness_seconds", "Oldest due timer's lateness",
                                value=_timer_lateness(now))  # fmt: skip
        yield GaugeMetricFamily(
            "cpaas_dispatch_backlog_messages", "Queued messages due now", value=backlog[0]
        )
        yield GaugeMetricFamily("cpaas_dispatch_backlog_oldest_seconds", "Oldest due queued message's wait",
                                value=backlog[1])  # fmt: skip
        loops = GaugeMetricFamily("cpaas_loop_processes", "Processes beating, by loop kind", labels=["kind"])
        for kind in sorted({*settings.HEALTH_REQUIRED_LOOPS, *beating}):
            loops.add_metric([kind], beating.get(kind, 0))
        yield loops


_backlog_source = None
_timer_source = None


def register_backlog(source) -> None:
    """channels_app: `source(now) -> (count, oldest seconds)`."""
    global _backlog_source
    _backlog_source = source


def register_timer_lateness(source) -> None:
    """journeys: `source(now) -> seconds`."""
    global _timer_source
    _timer_source = source


def _backlog(now):
    return _backlog_source(now) if _backlog_source else (0, 0.0)


def _timer_lateness(now) -> float:
    return float(_timer_source(now)) if _timer_source else 0.0


_database_collector = DatabaseCollector()


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_database_collector)
        return registry
    if _database_collector not in REGISTRY._collector_to_names:
        REGISTRY.register(_database_collector)
    return REGISTRY


def allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1")


def metrics_view(request) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("Forbidden: set METRICS_TOKEN and send it as a bearer token, or scrape from this host.\n",
                            status=403, content_type="text/plain")  # fmt: skip
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
