"""Prometheus metrics, and the tiny hooks other packages may call.

- ``observe_request`` (called by the request hook): latency per route template.
- ``record_payment(status)``: a payment reached a status (services may call it).
- ``record_task(name, outcome)``: Celery outcomes; fed by Celery signals, so
  no task needs to call it.
- At scrape time, from the database and the broker: transactions by status,
  oldest PENDING age, waiting tickets, displays heard from lately, broker
  queue length. Connected display sockets come from the display hub's gauge.

Multi-process (gunicorn): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty,
writable directory before the processes start; counters and histograms are
then summed over every worker (gunicorn.conf.py cleans up dead workers).
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta, timezone

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "kiosk_request_duration_seconds", "HTTP request latency by route template", ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PAYMENTS = Counter("kiosk_payments_total", "Payments that reached a status, as reported by services", ["status"])
TASKS = Counter("kiosk_celery_tasks_total", "Celery task outcomes", ["task", "outcome"])

DISPLAY_LIVE_SECONDS = 120


def observe_request(method: str, route: str, status: int, duration_ms: float | None) -> None:
    if duration_ms is not None:
        REQUEST_LATENCY.labels(method, route, str(status)).observe(duration_ms / 1000)


def record_payment(status: str) -> None:
    """Call when a transaction reaches ``status`` (PENDING, CONFIRMED, FAILED)."""
    PAYMENTS.labels(str(status)).inc()


def record_task(name: str, outcome: str) -> None:
    """``outcome``: success, failure or retry."""
    TASKS.labels(name, outcome).inc()


class StateCollector:
    """Gauges read from Postgres and the broker when Prometheus scrapes."""

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
        import sqlalchemy as sa

        from kiosk.display.models import Display
        from kiosk.extensions import db
        from kiosk.payments.models import Transaction
        from kiosk.queues.models import Ticket
        from kiosk.tenancy import system_scope

        now = datetime.now(timezone.utc)
        with system_scope():
            by_status = db.session.execute(
                sa.select(Transaction.status, sa.func.count()).group_by(Transaction.status)).all()
            oldest = db.session.execute(
                sa.select(sa.func.min(Transaction.created_at)).where(Transaction.status == "PENDING")).scalar()
            waiting = db.session.execute(
                sa.select(sa.func.count()).select_from(Ticket).where(Ticket.status == "WAITING")).scalar()
            displays = db.session.execute(
                sa.select(sa.func.count()).select_from(Display).where(
                    Display.revoked_at.is_(None),
                    Display.last_heartbeat >= now - timedelta(seconds=DISPLAY_LIVE_SECONDS))).scalar()
            db.session.rollback()
        transactions = GaugeMetricFamily("kiosk_transactions", "Transactions by status (all tenants)",
                                         labels=["status"])
        counts = {"PENDING": 0, "CONFIRMED": 0, "FAILED": 0, **{s: n for s, n in by_status}}
        for status, count in sorted(counts.items()):
            transactions.add_metric([status], count)
        yield transactions
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        yield GaugeMetricFamily("kiosk_payments_pending_oldest_seconds",
                                "Age of the oldest PENDING transaction (0 if none)",
                                value=(now - oldest).total_seconds() if oldest else 0)
        yield GaugeMetricFamily("kiosk_tickets_waiting", "Tickets waiting in every queue", value=waiting or 0)
        yield GaugeMetricFamily("kiosk_displays_live",
                                f"Displays heard from in the last {DISPLAY_LIVE_SECONDS} s", value=displays or 0)

    def _broker_family(self):
        from kiosk.extensions import redis_client

        length = 0
        if not self.app.config["CELERY"].get("task_always_eager"):
            length = redis_client.llen("celery")
        return GaugeMetricFamily("kiosk_celery_queue_length", "Messages waiting in the broker's celery queue",
                                 value=length)

    @staticmethod
    def _rollback() -> None:
        from kiosk.extensions import db

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
