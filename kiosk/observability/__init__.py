"""Request ids, one JSON log line per request, Sentry."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("kiosk.request")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{8,64}$")


def current_request_id() -> str | None:
    return getattr(g, "request_id", None)


def init_observability(app: Flask) -> None:
    from kiosk.observability.sentry import init_sentry

    init_sentry(app)

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        # Accept a caller's id only if it is harmless in logs and headers.
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish_request(response):
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        started = getattr(g, "request_started", None)
        duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
        route = request.url_rule.rule if request.url_rule else None
        log.info("request", extra={
            "request_id": request_id,
            "method": request.method,
            "route": route,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "establishment_id": str(g.get("establishment_id") or "") or None,
            "device_id": g.get("device_id"),
        })
        from kiosk.observability.metrics import observe_request

        observe_request(request.method, route or "unmatched", response.status_code, duration_ms)
        return response
