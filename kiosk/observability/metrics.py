"""Prometheus metrics. This module knows no domain; domains feed it.

- ``observe_request`` (called by the request hook): latency per route template.
- ``count_payment``: subscribed to the payment events, counts payments by status.
- ``record_task(name, outcome)``: Celery outcomes; fed by Celery signals, so
  no task needs to call it.
- At scrape time: the gauges each domain registered with
  ``register_state_gauges`` (transactions by status, oldest PENDING age,
  waiting tickets, displays heard from lately), and the broker's queue
  length. Connected display sockets come from the display hub's gauge.

Multi-process (gunicorn): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty,
writable directory before the processes start; counters and histograms are
then summed over every worker (gunicorn.conf.py cleans up dead workers).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from kiosk.extensions import db, redis_client
from kiosk.tenancy import system_scope

log = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "kiosk_request_duration_seconds", "HTTP request latency by route template", ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PAYMENTS = Counter("kiosk_payments_total", "Payments that reached a status, as reported by services", ["status"])
TASKS = Counter("kiosk_celery_tasks_total", "Celery task outcomes", ["task", "outcome"])


def observe_request(method: str, route: str, status: int, duration_ms: float | None) -> None:
    if duration_ms is not None:
        REQUEST_LATENCY.labels(method, route, str(status)).observe(duration_ms / 1000)


def record_payment(status: str) -> None:
    """Call when a transaction reaches ``status`` (PENDING, CONFIRMED, FAILED)."""
    PAYMENTS.labels(str(status)).inc()


def record_task(name: str, outcome: str) -> None:
    """``outcome``: success, failure or retry."""
    TASKS.labels(name, outcome).inc()


# Scrape-time gauges: each domain registers a callback that yields its
# metric families (kiosk/<domain>/metrics.py), so this module knows no domain.
_state_gauges: list[Callable[[], Iterable]] = []


def register_state_gauges(collect: Callable[[], Iterable]) -> None:
    """Add a callback run at each scrape, in system scope, yielding GaugeMetricFamily objects."""
    if collect not in _state_gauges:
        _state_gauges.append(collect)


def count_payment(event) -> None:
    """Event subscriber: a payment was received (PENDING) or settled (CONFIRMED, FAILED)."""
    record_payment(getattr(event, "status", "PENDING"))


class StateCollector:
    """Gauges read from the database and the broker when Prometheus scrapes."""

    def __init__(self, app) -> None:
        self.app = app

    def collect(self):
        up = GaugeMetricFamily("kiosk_metrics_state_up", "1 if the scrape-time state queries succeeded")
        try:
            families = list(self._database_families())
            families.append(self._broker_family())
            up.add_metric([], 1)
        except Exception as exc:  # noqa: BLE001 - a scrape must never fail because the DB did
            log.warning("metrics state unavailable", extra={"error": type(exc).__name__})
            families = []
            up.add_metric([], 0)
            self._rollback()
        yield from families
        yield up

    def _database_families(self):
        families = []
        with system_scope():
            for collect in _state_gauges:
                families.extend(collect())
            db.session.rollback()
        return families

    def _broker_family(self):
        length = 0
        if not self.app.config["CELERY"].get("task_always_eager"):
            length = redis_client.llen("celery")
        return GaugeMetricFamily("kiosk_celery_queue_length", "Messages waiting in the broker's celery queue",
                                 value=length)

    @staticmethod
    def _rollback() -> None:
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001
            pass


def render(app) -> bytes:
    """The exposition text: process metrics (every worker's) plus scrape-time state."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        processes = generate_latest(registry)
    else:
        processes = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(StateCollector(app))
    started = time.perf_counter()
    body = processes + generate_latest(state)
    log.debug("metrics rendered", extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)})
    return body
