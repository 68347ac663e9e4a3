"""Request ids, one JSON log line per request, Sentry, Celery signals, metrics."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("kiosk.request")

# After the line above: importing the submodule rebinds the name ``logging`` here.
from kiosk.observability.logging import mask_capability_urls  # noqa: E402

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


def init_observability(app: Flask) -> None:
    from kiosk.observability.celery import connect_celery_signals
    from kiosk.observability.sentry import init_sentry

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
        from kiosk.observability.metrics import observe_request

        observe_request(request.method, context["route"] or "unmatched", response.status_code, duration_ms)
        return response
