"""Error reporting, switched on by SENTRY_DSN (cpaas/settings/base.py calls `init`): Django
requests, the task worker (django-q2 logs a failed task at ERROR, which the logging integration
sends), and the loops (an error they log, and an exception that ends one, through the logging
and excepthook integrations). No personal data leaves: `send_default_pii` is off, request bodies
are dropped, and every message, exception value and breadcrumb is masked as the logs are
(cpaas.logs.mask). Each event carries the request id of the line that caused it."""

from __future__ import annotations

import logging


def _scrub(event: dict, hint: dict | None = None) -> dict:
    from .logs import mask, request_id

    if "message" in event and isinstance(event["message"], str):
        event["message"] = mask(event["message"])
    logentry = event.get("logentry") or {}
    for key in ("message", "formatted"):
        if isinstance(logentry.get(key), str):
            logentry[key] = mask(logentry[key])
    if logentry.get("params"):
        logentry["params"] = [mask(str(p)) for p in logentry["params"]]
    for exc in (event.get("exception") or {}).get("values", []):
        if isinstance(exc.get("value"), str):
            exc["value"] = mask(exc["value"])
        for frame in (exc.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)  # local variables hold numbers and texts
            for key in ("pre_context", "post_context"):
                if frame.get(key):
                    frame[key] = [mask(line) for line in frame[key]]
            if isinstance(frame.get("context_line"), str):
                frame["context_line"] = mask(frame["context_line"])
    for crumb in (event.get("breadcrumbs") or {}).get("values", []):
        if isinstance(crumb.get("message"), str):
            crumb["message"] = mask(crumb["message"])
        crumb.pop("data", None)
    request = event.get("request") or {}
    for key in ("data", "cookies", "query_string"):
        request.pop(key, None)
    event.setdefault("tags", {})["request_id"] = request_id.get()
    extra = event.get("extra") or {}
    extra.pop("sys.argv", None)
    return event


def init(
    *, dsn: str, environment: str = "", release: str = "", traces_sample_rate: float = 0.0, **extra
) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        integrations=[DjangoIntegration(), LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
        before_send=_scrub,
        before_send_transaction=_scrub,
        **extra,
    )
