"""Celery signals: one logging configuration, request ids into tasks, task metrics.

Connected once per process by ``init_observability``; no task module needs
to know about any of it.
"""
from __future__ import annotations

import logging
import time

from celery import signals

from kiosk.observability.context import request_id_for_logs, task_request_id, task_started
from kiosk.observability.logging import configure_logging
from kiosk.observability.metrics import record_task

log = logging.getLogger("kiosk.tasks")
HEADER = "kiosk_request_id"
_tokens: dict[str, object] = {}


def _setup_logging(loglevel=None, **_kwargs) -> None:
    # Receiving this signal stops Celery from installing its own handlers:
    # worker and beat log through the same JSON configuration as the web.
    configure_logging(level=loglevel or None)


def _task_logger_propagates(logger=None, **_kwargs) -> None:
    if logger is not None:
        logger.handlers = [h for h in logger.handlers if getattr(h, "_kiosk", False)]
        logger.propagate = True


def _before_publish(headers=None, **_kwargs) -> None:
    rid = request_id_for_logs()
    if rid and isinstance(headers, dict):
        headers.setdefault(HEADER, rid)


def _prerun(task_id=None, task=None, **_kwargs) -> None:
    # Eager tasks run inside the request: its id is still readable here,
    # before the task pushes an app context of its own.
    rid = getattr(task.request, HEADER, None) if task is not None else None
    rid = rid or request_id_for_logs() or (f"task-{task_id}" if task_id else None)
    _tokens[task_id] = (task_request_id.set(rid), task_started.set(time.perf_counter()))


def _postrun(task_id=None, **_kwargs) -> None:
    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        task_request_id.reset(tokens[0])
        task_started.reset(tokens[1])


def _failure(sender=None, task_id=None, exception=None, einfo=None, **_kwargs) -> None:
    name = getattr(sender, "name", "unknown")
    log.error("task failed", extra={"task": name, "task_id": task_id, "error": type(exception).__name__},
              exc_info=(type(exception), exception, exception.__traceback__) if exception else None)
    record_task(name, "failure")


def _success(sender=None, **_kwargs) -> None:
    record_task(getattr(sender, "name", "unknown"), "success")


def _retry(sender=None, reason=None, **_kwargs) -> None:
    name = getattr(sender, "name", "unknown")
    log.warning("task retry", extra={"task": name, "reason": type(reason).__name__ if reason else None})
    record_task(name, "retry")


def connect_celery_signals() -> None:
    """Idempotent: dispatch_uid keeps one receiver per signal per process."""
    signals.setup_logging.connect(_setup_logging, weak=False, dispatch_uid="kiosk.setup_logging")
    signals.after_setup_task_logger.connect(_task_logger_propagates, weak=False, dispatch_uid="kiosk.task_logger")
    signals.before_task_publish.connect(_before_publish, weak=False, dispatch_uid="kiosk.before_publish")
    signals.task_prerun.connect(_prerun, weak=False, dispatch_uid="kiosk.prerun")
    signals.task_postrun.connect(_postrun, weak=False, dispatch_uid="kiosk.postrun")
    signals.task_failure.connect(_failure, weak=False, dispatch_uid="kiosk.failure")
    signals.task_success.connect(_success, weak=False, dispatch_uid="kiosk.success")
    signals.task_retry.connect(_retry, weak=False, dispatch_uid="kiosk.retry")
