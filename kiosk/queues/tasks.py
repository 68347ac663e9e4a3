"""Celery beat's end of the service day (``queues.expire_closed_days``, scheduled in kiosk/config.py)."""
from __future__ import annotations

from celery import shared_task

from kiosk.queues import closing


@shared_task(name="queues.expire_closed_days", ignore_result=True)
def expire_closed_days() -> dict:
    # Idempotent: a missed or failed run is made up by the next tick a minute later.
    return closing.expire_closed_days()
