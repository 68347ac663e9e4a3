"""Scrape-time gauges of displays (registered with kiosk.observability.metrics)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily

from kiosk.base import utcnow
from kiosk.display.models import Display
from kiosk.extensions import db

DISPLAY_LIVE_SECONDS = 120


def gauges():
    displays = db.session.execute(
        sa.select(sa.func.count()).select_from(Display).where(
            Display.revoked_at.is_(None),
            Display.last_heartbeat >= utcnow() - timedelta(seconds=DISPLAY_LIVE_SECONDS))).scalar()
    yield GaugeMetricFamily("kiosk_displays_live",
                            f"Displays heard from in the last {DISPLAY_LIVE_SECONDS} s", value=displays or 0)
