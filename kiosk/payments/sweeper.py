"""Payments, part three: the safety net. A lost broker message or a dead worker
delays a payment, never loses it: PENDING rows older than 2 minutes go back to the worker."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from kiosk.base import aware, utcnow
from kiosk.extensions import db, redis_client
from kiosk.payments.ingest import enqueue_processing
from kiosk.payments.models import Transaction
from kiosk.tenancy import system_scope

log = logging.getLogger(__name__)

SWEEP_AFTER = timedelta(minutes=2)
STUCK_AFTER = timedelta(minutes=15)
SWEEP_BATCH = 500
STUCK_REPORT_EVERY_SECONDS = 3600


def sweep_pending(now: datetime | None = None) -> dict:
    """Re-enqueue PENDING payments older than 2 minutes (every establishment);
    report those older than 15 minutes to the logs and to Sentry."""
    now = now or utcnow()
    with system_scope():
        rows = db.session.execute(
            sa.select(Transaction.transaction_id, Transaction.establishment_id, Transaction.created_at)
            .where(Transaction.status == "PENDING", Transaction.created_at < now - SWEEP_AFTER)
            .order_by(Transaction.created_at).limit(SWEEP_BATCH)
        ).all()
    db.session.rollback()
    requeued = 0
    for row in rows:
        if not enqueue_processing(row.transaction_id):
            break  # the broker is down: the next run tries again
        requeued += 1
    stuck = [row for row in rows if aware(row.created_at) < now - STUCK_AFTER]
    if stuck:
        _report_stuck(stuck, now)
    if rows:
        log.info("payment sweep", extra={"pending": len(rows), "requeued": requeued, "stuck": len(stuck)})
    return {"pending": len(rows), "requeued": requeued, "stuck": len(stuck)}


def _report_stuck(rows, now: datetime) -> None:
    fresh = [row for row in rows if _first_report(row.transaction_id)]
    if not fresh:
        return
    oldest = min(aware(row.created_at) for row in fresh)
    details = {"count": len(fresh), "oldest_minutes": round((now - oldest).total_seconds() / 60, 1),
               "transaction_ids": [str(row.transaction_id) for row in fresh[:20]],
               "establishment_ids": sorted({str(row.establishment_id) for row in fresh})}
    log.error("payments stuck in PENDING for more than 15 minutes", extra=details)
    try:
        import sentry_sdk

        with sentry_sdk.new_scope() as scope:
            scope.set_context("stuck_payments", details)
            sentry_sdk.capture_message("payments stuck in PENDING for more than 15 minutes", level="error")
    except Exception:  # noqa: BLE001 - reporting must not stop the sweep
        log.warning("sentry report failed")


def _first_report(transaction_id) -> bool:
    """Report a stuck payment once an hour, not on every 30 s sweep."""
    try:
        return bool(redis_client.set(f"payments:stuck-reported:{transaction_id}", 1, nx=True,
                                     ex=STUCK_REPORT_EVERY_SECONDS))
    except Exception:  # noqa: BLE001 - better reported twice than never
        return True
