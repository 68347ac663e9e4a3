"""The request id and elapsed time for log lines, from a request or from a Celery task."""
from __future__ import annotations

import time
from contextvars import ContextVar

from flask import g, has_app_context

task_request_id: ContextVar[str | None] = ContextVar("kiosk_task_request_id", default=None)
task_started: ContextVar[float | None] = ContextVar("kiosk_task_started", default=None)


def request_id_for_logs() -> str | None:
    rid = task_request_id.get()
    if rid:
        return rid
    if has_app_context():
        return g.get("request_id")
    return None


def elapsed_ms_for_logs() -> float | None:
    """Milliseconds since the current task or request started (the latency so far)."""
    started = task_started.get()
    if started is None and has_app_context():
        started = g.get("request_started")
    return round((time.perf_counter() - started) * 1000, 2) if started is not None else None
