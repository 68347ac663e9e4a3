"""Payments, part two: PENDING -> validate -> VIP ticket -> CONFIRMED, or FAILED with a reason.

At most one ticket per payment, whatever runs twice: processing claims the
row with ``UPDATE ... WHERE status = 'PENDING'`` (a row lock: a concurrent
run waits, then sees it is no longer PENDING) and ``tickets.transaction_id``
is unique; the ticket and the status change commit together or not at all.
Side effects (cache, TV events, metrics) subscribe to the events emitted
here and run after commit: they can never undo or fail a payment.
"""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from kiosk.base import as_uuid, utcnow
from kiosk.devices.models import Device
from kiosk.establishments.models import Establishment
from kiosk.events import PaymentSettled, emit
from kiosk.extensions import db
from kiosk.observability.context import task_request_id
from kiosk.payments.models import Transaction
from kiosk.queues.models import Queue
from kiosk.queues.services import issue_ticket, publish_waiting_list_soon
from kiosk.tenancy import system_scope, tenant_scope

log = logging.getLogger(__name__)

# Failure reasons: stable codes the firmware and the dashboard can rely on.
DEVICE_DISABLED = "device_disabled"
DEVICE_NOT_FOUND = "device_not_found"
CURRENCY_MISMATCH = "currency_mismatch"
AMOUNT_BELOW_VIP_PRICE = "amount_below_vip_price"
QUEUE_NOT_FOUND = "queue_not_found"
QUEUE_CLOSED = "queue_closed"
FAILURE_REASONS = (DEVICE_NOT_FOUND, DEVICE_DISABLED, CURRENCY_MISMATCH, AMOUNT_BELOW_VIP_PRICE,
                   QUEUE_NOT_FOUND, QUEUE_CLOSED)


class TransientError(Exception):
    """A failure worth retrying (the database connection dropped mid-way)."""


def process_transaction(transaction_id) -> str:
    """PENDING -> validate -> VIP ticket -> CONFIRMED (or FAILED), in one DB transaction.

    Safe to run any number of times, concurrently: returns the final status
    ("PENDING" only if the row vanished). The tenant is taken from the row.

    :raise TransientError / OperationalError: retry later (nothing was committed).
    """
    ident = as_uuid(transaction_id)
    try:
        claimed = _claim(ident)
        if claimed is None:
            return _current_status(ident)
        token = task_request_id.set(task_request_id.get() or claimed.request_id)
        try:
            with tenant_scope(claimed.establishment_id):
                try:
                    return _settle(ident, claimed)
                except Exception:
                    # Before leaving the scope: it refreshes the RLS settings,
                    # which a failed transaction would refuse.
                    db.session.rollback()
                    raise
        finally:
            task_request_id.reset(token)
    except IntegrityError:
        # tickets.transaction_id is unique: another run created the ticket and
        # committed first. Ours rolled back; the payment is settled.
        db.session.rollback()
        log.info("payment already settled by a concurrent run", extra={"transaction_id": str(ident)})
        return _current_status(ident)
    except DBAPIError as exc:
        db.session.rollback()
        _count_failed_attempt(ident)
        if exc.connection_invalidated:
            raise TransientError(type(exc).__name__) from exc
        raise
    except Exception:
        db.session.rollback()
        _count_failed_attempt(ident)
        raise


def _claim(ident: uuid.UUID):
    """Claim a PENDING payment: the guard and the row lock in one statement.

    A concurrent run blocks on the lock, then finds the row no longer PENDING
    and gets None. Cross-tenant by design (the tenant comes from the row);
    the transaction stays open for ``_settle``.
    """
    with system_scope():
        return db.session.execute(
            sa.update(Transaction)
            .where(Transaction.transaction_id == ident, Transaction.status == "PENDING")
            .values(attempts=Transaction.attempts + 1, updated_at=utcnow())
            .returning(Transaction.establishment_id, Transaction.device_id, Transaction.amount,
                       Transaction.currency, Transaction.request_id)
            .execution_options(synchronize_session=False)
        ).one_or_none()


def _settle(ident: uuid.UUID, claimed) -> str:
    reason, queue, _establishment = _validate(claimed)  # held while the ticket is issued: see _validate
    ticket_id = None
    if reason is None:
        # The queue event's estimates (O(waiting): 60 % of this task's CPU at
        # 30 waiting, docs/performance.md) are computed after the commit, by a
        # task coalescing a queue's payments: the payment is CONFIRMED without
        # waiting for them, and the worker is free for the next one.
        ticket = issue_ticket(queue, "VIP", transaction_id=ident, device_id=claimed.device_id, commit=False,
                              publish_waiting=False)
        ticket_id = ticket.id
    status = "CONFIRMED" if reason is None else "FAILED"
    db.session.execute(
        sa.update(Transaction).where(Transaction.transaction_id == ident)
        .values(status=status, failure_reason=reason, ticket_id=ticket_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    emit(PaymentSettled(establishment_id=claimed.establishment_id, transaction_id=str(ident), status=status,
                        ticket_id=str(ticket_id) if ticket_id else None))
    db.session.commit()
    log.info("payment settled", extra={"transaction_id": str(ident), "status": status, "failure_reason": reason,
                                       "device_id": claimed.device_id})
    if queue is not None and ticket_id is not None:
        _publish_waiting_list_after(queue, ident)
    return status


def _publish_waiting_list_after(queue: Queue, ident: uuid.UUID) -> None:
    # A side effect of a committed payment: logged, never a reason to retry it.
    try:
        publish_waiting_list_soon(queue)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("queue event after a payment failed", extra={"transaction_id": str(ident)})


def _validate(claimed) -> tuple[str | None, Queue | None, Establishment | None]:
    """The first rule the payment breaks (a FAILED reason), or (None, its queue, its establishment).

    One query: the device, its establishment, its queue. The establishment as
    an entity, not two of its columns, held by the caller while it issues the
    ticket: ``issue_ticket`` then finds it in the session's identity map (which
    holds weak references) and does not read it again, one round trip fewer
    before the payment is CONFIRMED.
    """
    row = db.session.execute(
        sa.select(Device.status, Establishment, Queue)
        .select_from(Device)
        .join(Establishment, Establishment.id == Device.establishment_id)
        .outerjoin(Queue, Queue.id == Device.queue_id)
        .where(Device.device_id == claimed.device_id)
    ).one_or_none()
    if row is None:
        return DEVICE_NOT_FOUND, None, None
    if row.status != "ACTIVE":
        return DEVICE_DISABLED, None, None
    if claimed.currency != row.Establishment.currency:
        return CURRENCY_MISMATCH, None, None
    if claimed.amount < row.Establishment.vip_price:
        return AMOUNT_BELOW_VIP_PRICE, None, None
    if row.Queue is None:
        return QUEUE_NOT_FOUND, None, None
    if not row.Queue.active:
        return QUEUE_CLOSED, None, None
    return None, row.Queue, row.Establishment


def _current_status(ident: uuid.UUID) -> str:
    db.session.rollback()
    with system_scope():
        status = db.session.execute(
            sa.select(Transaction.status).where(Transaction.transaction_id == ident)
        ).scalar_one_or_none()
    db.session.rollback()
    if status is None:
        log.error("payment to process not found", extra={"transaction_id": str(ident)})
    return status or "PENDING"


def _count_failed_attempt(ident: uuid.UUID) -> None:
    """Best effort: the failed run's own increment was rolled back with it."""
    try:
        with system_scope():
            db.session.execute(
                sa.update(Transaction)
                .where(Transaction.transaction_id == ident, Transaction.status == "PENDING")
                .values(attempts=Transaction.attempts + 1, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        db.session.commit()
    except Exception:  # noqa: BLE001 - the database may be the thing that is down
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001
            pass
