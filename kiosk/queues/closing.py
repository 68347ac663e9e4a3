"""The end of a service day: open tickets become EXPIRED.

Two ways in:

- ``expire_closed_days`` (Celery beat, every minute, every establishment in
  its own time zone): WAITING and CALLED tickets of a day whose closing has
  passed (kiosk/queues/service_day.py).
- ``close_day`` (``POST /api/queues/<id>/close-day``, manager): one queue's
  open tickets, at once; tickets issued afterwards are served as usual.

Each is one ``UPDATE … SET status = 'EXPIRED' WHERE status IN ('WAITING',
'CALLED') AND …`` per (establishment, day): idempotent, and safe to run twice
at once (on Postgres the second UPDATE waits for the first's row locks, then
re-checks the status and skips the rows already expired), so concurrent runs
expire each ticket once and their counts add up to the number expired.
"""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from kiosk.audit.services import record as audit
from kiosk.base import utcnow
from kiosk.establishments.models import Establishment
from kiosk.events import DayClosed, emit
from kiosk.extensions import db
from kiosk.queues import service_day
from kiosk.queues.models import OPEN_STATUSES, Queue, Ticket
from kiosk.queues.services import get_queue, publish_waiting_list
from kiosk.tenancy import require_establishment_id, system_scope, tenant_scope

log = logging.getLogger(__name__)


def _expire(where: list, now: datetime) -> list:
    """Expire the open tickets matching ``where``; returns (id, queue_id, code, kind) of each one expired."""
    statement = (
        sa.update(Ticket)
        .where(Ticket.status.in_(OPEN_STATUSES), *where)
        .values(status="EXPIRED", finished_at=now)
        .returning(Ticket.id, Ticket.queue_id, Ticket.code, Ticket.kind)
        .execution_options(synchronize_session=False)
    )
    return list(db.session.execute(statement).all())


def _announce(establishment_id, expired: list, manual: bool) -> None:
    """After commit: the cache goes, TVs and counters get each queue's new waiting list."""
    queue_ids = sorted({row.queue_id for row in expired}, key=str)
    for queue_id in queue_ids:
        count = sum(1 for row in expired if row.queue_id == queue_id)
        emit(DayClosed(establishment_id=establishment_id, queue_id=str(queue_id), expired=count, manual=manual))
        queue = db.session.execute(sa.select(Queue).where(Queue.id == queue_id)).scalar_one()
        publish_waiting_list(queue)


def close_day(queue_id, now: datetime | None = None, *, actor_id=None) -> int:
    """Expire every WAITING or CALLED ticket of one queue now (the current tenant's).

    :raise NotFound: unknown id, or another establishment's queue.
    """
    queue = get_queue(queue_id)
    now = now or utcnow()
    # Issued up to now: a ticket printed in the same instant on another counter's request is not caught
    # half-way; the ones issued afterwards belong to whoever reopened the day.
    expired = _expire([Ticket.queue_id == queue.id, Ticket.created_at <= now], now)
    audit("queue.day_closed", actor_id=actor_id, target_type="queue", target_id=str(queue.id),
          details={"expired": len(expired), "manual": True})
    if expired:
        _announce(require_establishment_id(), expired, manual=True)
    db.session.commit()
    log.info("service day closed by hand", extra={"queue_id": str(queue.id), "expired": len(expired)})
    return len(expired)


def expire_establishment(establishment: Establishment, now: datetime) -> int:
    """Expire the current establishment's open tickets of every day that has closed at ``now``."""
    today = service_day.local_day(establishment.timezone, now)
    days = db.session.scalars(
        sa.select(Ticket.service_day).where(Ticket.status.in_(OPEN_STATUSES), Ticket.service_day <= today)
        .distinct()).all()
    closed = service_day.closed_days(establishment.timezone, establishment.opening_hours, days, now)
    expired = []
    for day, (closes, deadline) in sorted(closed.items()):
        where = [Ticket.service_day == day]
        if now < deadline:
            where.append(Ticket.created_at < closes)  # issued after closing: served until midnight
        expired += _expire(where, now)
    if expired:
        for queue_id in sorted({row.queue_id for row in expired}, key=str):
            audit("queue.day_closed", actor_id=None, target_type="queue", target_id=str(queue_id),
                  details={"expired": sum(1 for row in expired if row.queue_id == queue_id), "manual": False})
        _announce(establishment.id, expired, manual=False)
    db.session.commit()
    return len(expired)


def expire_closed_days(now: datetime | None = None) -> dict:
    """Celery beat: ``expire_establishment`` for every establishment, each in its own tenant scope.

    One establishment's failure is logged and never stops the others.
    """
    now = now or utcnow()
    with system_scope():
        ids = db.session.scalars(sa.select(Establishment.id).order_by(Establishment.id)).all()
    db.session.rollback()
    expired, failed = 0, 0
    for establishment_id in ids:
        try:
            with tenant_scope(establishment_id):
                establishment = db.session.execute(
                    sa.select(Establishment).where(Establishment.id == establishment_id)).scalar_one()
                expired += expire_establishment(establishment, now)
        except Exception:  # noqa: BLE001 - logged; the next establishment still closes its day
            db.session.rollback()
            failed += 1
            log.exception("service day expiry failed", extra={"establishment_id": str(establishment_id)})
    if expired:
        log.info("service days closed", extra={"expired": expired})
    return {"establishments": len(ids), "expired": expired, "failed": failed}
