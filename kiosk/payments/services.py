"""Payments: ingest, processing and the sweeper. Every money rule lives here.

State machine (see docs/payments.md):

    (device POST) --> PENDING --process--> CONFIRMED   (exactly one VIP ticket)
                         |    \\--process--> FAILED      (a reason; never retried)
                         \\--- transient error: stays PENDING, retried with backoff;
                              the sweeper re-enqueues it after 2 minutes.

Guarantees, and what makes each one hold:

- one row per transaction_id: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``;
  on a conflict the row is read back and an identical retry is answered from
  it, never inserted;
- the row is committed before the task is enqueued, and an enqueue failure
  does not fail the request: the sweeper finds the row later;
- at most one ticket per payment: processing claims the row with
  ``UPDATE ... WHERE status = 'PENDING'`` (a row lock: a concurrent run waits,
  then sees it is no longer PENDING) and ``tickets.transaction_id`` is unique;
  ticket and status change commit together or not at all;
- side effects (cache invalidation, the ``payment`` / ``ticket`` / ``queue``
  events) run after commit and can never undo or fail a payment.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DBAPIError, IntegrityError

from kiosk.auth.models import Establishment, utcnow
from kiosk.devices.models import Device
from kiosk.errors import ApiError, NotFound
from kiosk.events import after_commit, publish, ticket_changed
from kiosk.extensions import db, redis_client
from kiosk.observability.context import task_request_id
from kiosk.observability.metrics import record_payment
from kiosk.payments.models import Transaction
from kiosk.queues.models import Queue, Ticket
from kiosk.queues.services import describe_ticket, issue_ticket
from kiosk.tenancy import system_scope, tenant_scope

log = logging.getLogger(__name__)

PROCESS_TASK = "payments.process_transaction"
SWEEP_AFTER = timedelta(minutes=2)
NUDGE_AFTER = timedelta(seconds=30)
STUCK_AFTER = timedelta(minutes=15)
SWEEP_BATCH = 500
STUCK_REPORT_EVERY_SECONDS = 3600

# Failure reasons: stable codes the firmware and the dashboard can rely on.
DEVICE_DISABLED = "device_disabled"
DEVICE_NOT_FOUND = "device_not_found"
CURRENCY_MISMATCH = "currency_mismatch"
AMOUNT_BELOW_VIP_PRICE = "amount_below_vip_price"
QUEUE_NOT_FOUND = "queue_not_found"
QUEUE_CLOSED = "queue_closed"
FAILURE_REASONS = (DEVICE_NOT_FOUND, DEVICE_DISABLED, CURRENCY_MISMATCH, AMOUNT_BELOW_VIP_PRICE,
                   QUEUE_NOT_FOUND, QUEUE_CLOSED)

DEVICE_TICKET_FIELDS = ("ticket_id", "code", "kind", "status", "position", "eta_minutes", "tracking_url")


class TransientError(Exception):
    """A failure worth retrying (the database connection dropped mid-way)."""


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def status_path(transaction_id) -> str:
    return f"/iot/payments/{transaction_id}"


# --- ingest ----------------------------------------------------------------------------

@dataclass
class Ingested:
    body: dict
    created: bool


def payload_hash(transaction_id: uuid.UUID, amount: int, currency: str) -> str:
    """SHA-256 of the payment as resolved (currency defaulted), so an omitted
    currency and the establishment's own code are the same payment."""
    canonical = json.dumps({"transaction_id": str(transaction_id), "amount": amount, "currency": currency},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_INSERT_COLUMNS = ("transaction_id", "establishment_id", "device_id", "amount", "currency", "status",
                   "payload_hash", "attempts", "request_id", "created_at", "updated_at")
_insert_statements: dict = {}


def _insert_statement(dialect: str):
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING``, built once per dialect (hot path)."""
    statement = _insert_statements.get(dialect)
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        table = Transaction.__table__
        statement = (insert(table).values({name: sa.bindparam(name, type_=table.c[name].type)
                                           for name in _INSERT_COLUMNS})
                     .on_conflict_do_nothing(index_elements=[table.c.transaction_id])
                     .returning(table.c.transaction_id))
        _insert_statements[dialect] = statement
    return statement


def insert_pending(values: dict) -> bool:
    """Insert the PENDING row and commit; False if the id already existed."""
    statement = _insert_statement(db.session.get_bind().dialect.name)
    inserted = db.session.execute(statement, values).scalar_one_or_none() is not None
    db.session.commit()
    return inserted


def _mismatch() -> ApiError:
    # No details: the other payment may belong to another device or establishment.
    return ApiError(422, "idempotency_mismatch",
                    _l("This transaction_id was already used for a different payment."))


def ingest_payment(device: Device, transaction_id: uuid.UUID, amount: int, currency: str | None,
                   request_id: str | None = None) -> Ingested:
    """Record a device's payment once, then enqueue its processing.

    :raise ApiError 422 idempotency_mismatch: the id is taken by another
        payload, another device, or another establishment (never said which).
    """
    currency = currency or establishment_currency(device.establishment_id)
    digest = payload_hash(transaction_id, amount, currency)
    now = utcnow()
    created = insert_pending({
        "transaction_id": transaction_id, "establishment_id": device.establishment_id,
        "device_id": device.device_id, "amount": amount, "currency": currency, "status": "PENDING",
        "payload_hash": digest, "attempts": 0, "request_id": request_id, "created_at": now, "updated_at": now,
    })
    if created:
        record_payment("PENDING")
        enqueue_processing(transaction_id)
        if not current_app.extensions["celery"].conf.task_always_eager:
            # The hot path: nothing else can have touched the row yet.
            return Ingested(accepted_body(transaction_id, "PENDING"), True)
    transaction = db.session.execute(
        sa.select(Transaction).where(Transaction.transaction_id == transaction_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if transaction is None:
        # The id exists, but RLS and the tenant filter hide it: another establishment's.
        raise _mismatch()
    if created:
        # Tasks ran in-process: the status may already be final.
        return Ingested(accepted_body(transaction_id, transaction.status), True)
    if transaction.device_id != device.device_id or transaction.payload_hash != digest:
        raise _mismatch()
    return Ingested(describe_payment(transaction), False)


def accepted_body(transaction_id, status: str) -> dict:
    return {"transaction_id": str(transaction_id), "status": status, "status_url": status_path(transaction_id)}


_currency_cache: dict = {}
CURRENCY_CACHE_SECONDS = 60


def establishment_currency(establishment_id) -> str:
    """The establishment's currency, cached per process for a minute.

    Saves a query on the hot path. Safe if a currency changes: processing
    checks the currency against the database and fails the payment with
    ``currency_mismatch`` rather than selling a ticket at the wrong price.
    """
    hit = _currency_cache.get(establishment_id)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    currency = db.session.execute(
        sa.select(Establishment.currency).where(Establishment.id == establishment_id)
    ).scalar_one()
    _currency_cache[establishment_id] = (currency, now + CURRENCY_CACHE_SECONDS)
    return currency


def enqueue_processing(transaction_id) -> bool:
    """Hand a payment to the worker; never raises (the sweeper is the safety net)."""
    celery = current_app.extensions["celery"]
    try:
        celery.tasks[PROCESS_TASK].apply_async(
            args=[str(transaction_id)],
            # One quick retry for a blip; a real outage is the sweeper's job,
            # not a reason to keep the device waiting.
            retry=True, retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.1,
                                      "interval_max": 0.1},
        )
        return True
    except Exception as exc:  # noqa: BLE001 - the row is committed; nothing is lost
        log.warning("payment enqueue failed; the sweeper will retry it",
                    extra={"transaction_id": str(transaction_id), "error": type(exc).__name__})
        return False


def get_payment(device: Device, transaction_id) -> Transaction:
    """A payment of this device.

    :raise NotFound: malformed id, unknown, another device's or another establishment's.
    """
    try:
        ident = _uuid(transaction_id)
    except (ValueError, TypeError, AttributeError):
        raise NotFound() from None
    transaction = db.session.execute(
        sa.select(Transaction).where(Transaction.transaction_id == ident, Transaction.device_id == device.device_id)
    ).scalar_one_or_none()
    if transaction is None:
        raise NotFound()
    if transaction.status == "PENDING" and _nudge(transaction):
        db.session.refresh(transaction)  # in-process tasks may have settled it
    return transaction


def _nudge(transaction: Transaction) -> bool:
    """A device polling a payment still PENDING after 30 s re-enqueues it (once per
    30 s): a lost enqueue then costs seconds, not the sweeper's 2 minutes."""
    created_at = transaction.created_at
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    if utcnow() - created_at < NUDGE_AFTER:
        return False
    try:
        due = redis_client.set(f"payments:nudge:{transaction.transaction_id}", 1, nx=True,
                               ex=int(NUDGE_AFTER.total_seconds()))
    except Exception:  # noqa: BLE001 - a status read must not fail on this
        return False
    return bool(due) and enqueue_processing(transaction.transaction_id)


def device_ticket(ticket: Ticket) -> dict:
    described = describe_ticket(ticket)
    return {name: described[name] for name in DEVICE_TICKET_FIELDS}


def describe_payment(transaction: Transaction) -> dict:
    """The contract's payment status, with the ticket's position, ETA and tracking URL."""
    ticket = None
    if transaction.ticket_id is not None:
        row = db.session.execute(sa.select(Ticket).where(Ticket.id == transaction.ticket_id)).scalar_one_or_none()
        ticket = device_ticket(row) if row is not None else None
    return {
        "transaction_id": str(transaction.transaction_id),
        "status": transaction.status,
        "amount": transaction.amount,
        "currency": transaction.currency,
        "failure_reason": transaction.failure_reason,
        "ticket": ticket,
        "status_url": status_path(transaction.transaction_id),
    }


# --- free tickets -------------------------------------------------------------------------

def issue_free_ticket(device: Device, request_id: uuid.UUID) -> tuple[Ticket, bool]:
    """A STANDARD ticket for the device's queue, once per request_id.

    Returns (ticket, created). Two racing requests with one request_id both get
    the same ticket: the unique ``tickets.request_id`` decides, the loser reads.

    :raise ApiError 422 idempotency_mismatch: the request_id is another device's.
    :raise ApiError 409 queue_closed: the device's queue is closed or gone.
    """
    existing = _ticket_for_request(request_id)
    if existing is not None:
        return _same_device(existing, device), False
    queue = _device_queue(device)
    try:
        ticket = issue_ticket(queue, "STANDARD", request_id=request_id, device_id=device.device_id)
    except IntegrityError:
        db.session.rollback()
        existing = _ticket_for_request(request_id)
        if existing is None:  # another establishment's request_id (invisible here)
            raise _mismatch() from None
        return _same_device(existing, device), False
    return ticket, True


def _ticket_for_request(request_id: uuid.UUID) -> Ticket | None:
    return db.session.execute(sa.select(Ticket).where(Ticket.request_id == request_id)).scalar_one_or_none()


def _same_device(ticket: Ticket, device: Device) -> Ticket:
    if ticket.device_id != device.device_id:
        raise _mismatch()
    return ticket


def _device_queue(device: Device) -> Queue:
    queue = None
    if device.queue_id is not None:
        queue = db.session.execute(sa.select(Queue).where(Queue.id == device.queue_id)).scalar_one_or_none()
    if queue is None or not queue.active:
        raise ApiError(409, "queue_closed", _l("This queue is closed."))
    return queue


# --- processing -----------------------------------------------------------------------------

def process_transaction(transaction_id) -> str:
    """PENDING -> validate -> VIP ticket -> CONFIRMED (or FAILED), in one DB transaction.

    Safe to run any number of times, concurrently: returns the final status
    ("PENDING" only if the row vanished). The tenant is taken from the row.

    :raise TransientError / OperationalError: retry later (nothing was committed).
    """
    ident = _uuid(transaction_id)
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
    reason, queue = _validate(claimed)
    ticket_id = None
    if reason is None:
        ticket = issue_ticket(queue, "VIP", transaction_id=ident, device_id=claimed.device_id, commit=False)
        ticket_id = ticket.id
    status = "CONFIRMED" if reason is None else "FAILED"
    db.session.execute(
        sa.update(Transaction).where(Transaction.transaction_id == ident)
        .values(status=status, failure_reason=reason, ticket_id=ticket_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    event = {"type": "payment", "transaction_id": str(ident), "status": status,
             "ticket_id": str(ticket_id) if ticket_id else None}
    if ticket_id is None:
        ticket_changed(claimed.establishment_id, event)  # invalidate + publish
    else:
        # issue_ticket's own events already invalidate this establishment's cache.
        establishment_id = claimed.establishment_id
        after_commit(lambda: publish(establishment_id, event))
    _test_delay(ident)
    db.session.commit()
    record_payment(status)
    log.info("payment settled", extra={"transaction_id": str(ident), "status": status, "failure_reason": reason,
                                       "device_id": claimed.device_id})
    return status


def _validate(claimed) -> tuple[str | None, Queue | None]:
    """The first rule the payment breaks (a FAILED reason), or (None, its queue).

    One query: the device, its establishment's price and currency, its queue.
    """
    row = db.session.execute(
        sa.select(Device.status, Establishment.currency, Establishment.vip_price, Queue)
        .select_from(Device)
        .join(Establishment, Establishment.id == Device.establishment_id)
        .outerjoin(Queue, Queue.id == Device.queue_id)
        .where(Device.device_id == claimed.device_id)
    ).one_or_none()
    if row is None:
        return DEVICE_NOT_FOUND, None
    if row.status != "ACTIVE":
        return DEVICE_DISABLED, None
    if claimed.currency != row.currency:
        return CURRENCY_MISMATCH, None
    if claimed.amount < row.vip_price:
        return AMOUNT_BELOW_VIP_PRICE, None
    if row.Queue is None:
        return QUEUE_NOT_FOUND, None
    if not row.Queue.active:
        return QUEUE_CLOSED, None
    return None, row.Queue


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


def _test_delay(ident: uuid.UUID) -> None:
    """Fault-test hook: hold the open transaction (never in production)."""
    delay = float(current_app.config.get("PAYMENTS_TEST_DELAY_SECONDS") or 0)
    if delay <= 0 or current_app.config.get("KIOSK_ENV") == "production":
        return
    log.warning("test delay: holding payment %s in pid %s", ident, os.getpid())
    time.sleep(delay)


# --- the sweeper ------------------------------------------------------------------------------

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
    stuck = [row for row in rows if _aware(row.created_at) < now - STUCK_AFTER]
    if stuck:
        _report_stuck(stuck, now)
    if rows:
        log.info("payment sweep", extra={"pending": len(rows), "requeued": requeued, "stuck": len(stuck)})
    return {"pending": len(rows), "requeued": requeued, "stuck": len(stuck)}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _report_stuck(rows, now: datetime) -> None:
    fresh = [row for row in rows if _first_report(row.transaction_id)]
    if not fresh:
        return
    oldest = min(_aware(row.created_at) for row in fresh)
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
