"""Scrape-time gauges of payments (registered with kiosk.observability.metrics)."""
from __future__ import annotations

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily

from kiosk.base import aware, utcnow
from kiosk.extensions import db
from kiosk.payments.models import Transaction


def gauges():
    now = utcnow()
    by_status = db.session.execute(
        sa.select(Transaction.status, sa.func.count()).group_by(Transaction.status)).all()
    oldest = aware(db.session.execute(
        sa.select(sa.func.min(Transaction.created_at)).where(Transaction.status == "PENDING")).scalar())
    transactions = GaugeMetricFamily("kiosk_transactions", "Transactions by status (all tenants)",
                                     labels=["status"])
    counts = {"PENDING": 0, "CONFIRMED": 0, "FAILED": 0, **{s: n for s, n in by_status}}
    for status, count in sorted(counts.items()):
        transactions.add_metric([status], count)
    yield transactions
    yield GaugeMetricFamily("kiosk_payments_pending_oldest_seconds",
                            "Age of the oldest PENDING transaction (0 if none)",
                            value=(now - oldest).total_seconds() if oldest else 0)
