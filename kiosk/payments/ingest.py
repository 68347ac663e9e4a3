"""Payments, part one: a device's payment recorded once, then handed to the worker.

Guarantees, and what makes each one hold (the whole state machine is in
docs/payments.md; processing is in processing.py, the safety net in sweeper.py):

- one row per transaction_id: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``;
  on a conflict the row is read back and an identical retry is answered from
  it, never inserted;
- the row is committed before the task is enqueued, and an enqueue failure
  does not fail the request: the sweeper finds the row later.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from kiosk.base import as_uuid, aware, utcnow
from kiosk.devices.models import Device
from kiosk.errors import ApiError, NotFound
from kiosk.establishments.models import Establishment
from kiosk.events import PaymentReceived, emit
from kiosk.extensions import db, redis_client
from kiosk.payments import broker
from kiosk.payments.models import Transaction
from kiosk.queues.models import Ticket
from kiosk.queues.presentation import describe_ticket

log = logging.getLogger(__name__)

PROCESS_TASK = "payments.process_transaction"
NUDGE_AFTER = timedelta(seconds=30)
DEVICE_TICKET_FIELDS = ("ticket_id", "code", "kind", "status", "position", "eta_minutes", "tracking_url")


def status_path(transaction_id) -> str:
    return f"/iot/payments/{transaction_id}"


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
    if inserted:
        emit(PaymentReceived(establishment_id=values["establishment_id"],
                             transaction_id=str(values["transaction_id"])))
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
        if broker.push_task(celery, PROCESS_TASK, [str(transaction_id)]):
            return True
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
        ident = as_uuid(transaction_id)
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
    if utcnow() - aware(transaction.created_at) < NUDGE_AFTER:
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
