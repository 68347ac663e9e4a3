"""Request ids and one JSON log line per request; ``init_observability`` wires Sentry, Celery signals and metrics."""
from __future__ import annotations

import re
import time
import uuid
import logging

from flask import Flask, g, has_request_context, request

from kiosk.observability.celery import connect_celery_signals
from kiosk.observability.logging import mask_capability_urls
from kiosk.observability.metrics import observe_request
from kiosk.observability.sentry import init_sentry

log = logging.getLogger("kiosk.request")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{8,64}$")


def current_request_id() -> str | None:
    return getattr(g, "request_id", None)


def request_context() -> dict:
    """What a log line about this request says: ids, route, tenant, device, user."""
    return {
        "request_id": getattr(g, "request_id", None),
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else None,
        # The route template says which page; the path would carry bearer tokens (/t/<token>).
        "path": mask_capability_urls(request.path),
        "establishment_id": str(g.get("establishment_id") or "") or None,
        "device_id": g.get("device_id"),
        "user_id": g.get("user_id"),
    }


def _start_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    # Accept a caller's id only if it is harmless in logs and headers.
    g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


class RequestContextFilter(logging.Filter):
    """Adds the request's ids, route, tenant, device and user to a log record.

    Installed on the error handlers' logger, so ``kiosk.errors`` (core) says
    which request failed without importing observability.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            try:
                context = request_context()
            except Exception:  # noqa: BLE001 - logging context must never mask the error
                return True
            for key, value in context.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


_CONTEXT_FILTER = RequestContextFilter()


def init_observability(app: Flask) -> None:
    errors_log = logging.getLogger("kiosk.errors")
    if _CONTEXT_FILTER not in errors_log.filters:
        errors_log.addFilter(_CONTEXT_FILTER)
    init_sentry(app)
    connect_celery_signals()
    # First of all before_request hooks: a request refused early (HTTPS
    # redirect, 413, 415, 429) still gets an id and a duration.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)

    @app.after_request
    def _finish_request(response):
        if getattr(g, "request_id", None) is None:
            _start_request()
        response.headers["X-Request-ID"] = g.request_id
        duration_ms = round((time.perf_counter() - g.request_started) * 1000, 2)
        context = request_context()
        log.info("request", extra={**context, "status": response.status_code, "duration_ms": duration_ms})
        observe_request(request.method, context["route"] or "unmatched", response.status_code, duration_ms)
        return response
