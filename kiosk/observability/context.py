"""The request id for log lines, from a request or from a Celery task."""
from __future__ import annotations

from contextvars import ContextVar

from flask import g, has_app_context

task_request_id: ContextVar[str | None] = ContextVar("kiosk_task_request_id", default=None)


def request_id_for_logs() -> str | None:
    rid = task_request_id.get()
    if rid:
        return rid
    if has_app_context():
        return g.get("request_id")
    return None
