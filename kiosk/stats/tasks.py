"""Celery beat's stats warm-up (``stats.warm_up``, scheduled in kiosk/config.py)."""
from __future__ import annotations

from celery import shared_task

from kiosk.stats import services


@shared_task(name="stats.warm_up", ignore_result=True)
def warm_up() -> dict:
    # A cache nicety: no retries; the next beat tick runs it again.
    return services.warm_up_all()
