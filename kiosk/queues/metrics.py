"""Scrape-time gauges of queues (registered with kiosk.observability.metrics)."""
from __future__ import annotations

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily

from kiosk.extensions import db
from kiosk.queues.models import Ticket


def gauges():
    waiting = db.session.execute(
        sa.select(sa.func.count()).select_from(Ticket).where(Ticket.status == "WAITING")).scalar()
    yield GaugeMetricFamily("kiosk_tickets_waiting", "Tickets waiting in every queue", value=waiting or 0)
