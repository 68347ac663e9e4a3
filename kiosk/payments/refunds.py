"""Refunds: money handed back for a paid ticket that was never served.

A VIP ticket exists only for a CONFIRMED payment. When it ends ``EXPIRED``
(the day closed first), ``NO_SHOW`` or ``CANCELLED`` without being served,
the establishment owes the customer the amount paid: the ticket is *due*.
A manager hands the money back at the desk and records it here; the ticket
then carries ``refunded_at`` and ``refunded_by``, once and for all.

Revenue stats are net of refunds on the local day of the refund
(kiosk/stats/services.py), so recording one invalidates the establishment's
cache through the ordinary ``ticket`` event.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from kiosk.audit.services import record as audit
from kiosk.auth.models import User
from kiosk.base import iso, utcnow
from kiosk.errors import ApiError, NotFound
from kiosk.events import TicketRefunded, emit
from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues.models import REFUNDABLE_STATUSES, Queue, Ticket

REFUND_STATES = ("due", "refunded")
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000


def _paid_unserved() -> list:
    """Conditions of a refundable ticket: paid (a confirmed payment) and ended unserved."""
    return [Ticket.transaction_id.is_not(None), Transaction.status == "CONFIRMED",
            Ticket.status.in_(REFUNDABLE_STATUSES)]


def _row(ticket: Ticket, transaction: Transaction, queue_name: str | None, refunded_by: str | None) -> dict:
    return {"ticket_id": str(ticket.id), "code": ticket.code, "status": ticket.status,
            "amount": int(transaction.amount), "currency": transaction.currency,
            "transaction_id": str(transaction.transaction_id), "created_at": iso(ticket.created_at),
            "refunded_at": iso(ticket.refunded_at), "refunded_by": refunded_by,
            "queue_id": str(ticket.queue_id), "queue_name": queue_name,
            "service_day": ticket.service_day.isoformat(), "finished_at": iso(ticket.finished_at)}


def list_refunds(status: str = "due", limit: int = DEFAULT_LIMIT) -> list[dict]:
    """Refundable tickets of the current establishment.

    ``due``: not refunded yet, oldest first (the longest-owed customer at the
    top). ``refunded``: already handed back, most recent refund first.
    """
    statement = (
        sa.select(Ticket, Transaction, Queue.name, User.email)
        .join(Transaction, Transaction.transaction_id == Ticket.transaction_id)
        .join(Queue, Queue.id == Ticket.queue_id)
        .outerjoin(User, User.id == Ticket.refunded_by)
        .where(*_paid_unserved())
    )
    if status == "refunded":
        statement = statement.where(Ticket.refunded_at.is_not(None)).order_by(Ticket.refunded_at.desc())
    else:
        statement = statement.where(Ticket.refunded_at.is_(None)).order_by(Ticket.created_at, Ticket.id)
    rows = db.session.execute(statement.limit(max(1, min(limit, MAX_LIMIT)))).all()
    return [_row(ticket, transaction, queue_name, email) for ticket, transaction, queue_name, email in rows]


def refund_ticket(ticket_id, user_id, now: datetime | None = None) -> dict:
    """Record that the money of a paid, unserved ticket was handed back.

    :raise NotFound: unknown id, or another establishment's ticket.
    :raise ApiError 409 already_refunded: it was refunded before (``details.refunded_at``).
    :raise ApiError 409 not_refundable: served, still in line, or never paid.
    """
    try:
        ident = uuid.UUID(str(ticket_id))
    except (ValueError, TypeError, AttributeError):
        raise NotFound() from None
    # Row lock: two managers pressing "refunded" together record one refund, the other gets the 409.
    ticket = db.session.execute(sa.select(Ticket).where(Ticket.id == ident).with_for_update()).scalar_one_or_none()
    if ticket is None:
        raise NotFound()
    if ticket.refunded_at is not None:
        refunded_at = iso(ticket.refunded_at)
        db.session.rollback()
        raise ApiError(409, "already_refunded", _l("This ticket has already been refunded."),
                       {"refunded_at": refunded_at})
    transaction = None
    if ticket.transaction_id is not None:
        transaction = db.session.execute(
            sa.select(Transaction).where(Transaction.transaction_id == ticket.transaction_id)).scalar_one_or_none()
    if transaction is None or transaction.status != "CONFIRMED" or ticket.status not in REFUNDABLE_STATUSES:
        status, paid = ticket.status, transaction is not None
        db.session.rollback()
        raise ApiError(409, "not_refundable",
                       _l("Only a paid ticket that ended without being served can be refunded."),
                       {"status": status, "paid": paid, "refundable_statuses": list(REFUNDABLE_STATUSES)})
    ticket.refunded_at = now or utcnow()
    ticket.refunded_by = uuid.UUID(str(user_id)) if user_id else None
    db.session.flush()
    audit("ticket.refunded", actor_id=user_id, target_type="ticket", target_id=str(ticket.id),
          details={"code": ticket.code, "amount": int(transaction.amount), "currency": transaction.currency,
                   "transaction_id": str(transaction.transaction_id)})
    # After the commit: the establishment's cache goes (revenue is net of refunds; the ticket page says it).
    emit(TicketRefunded(establishment_id=ticket.establishment_id, ticket_id=str(ticket.id),
                        amount=int(transaction.amount)))
    queue_name = db.session.scalar(sa.select(Queue.name).where(Queue.id == ticket.queue_id))
    email = db.session.scalar(sa.select(User.email).where(User.id == ticket.refunded_by)) \
        if ticket.refunded_by else None
    body = _row(ticket, transaction, queue_name, email)
    db.session.commit()
    return body
