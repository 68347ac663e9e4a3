"""Every statement shape the code sends through the ORM session, run per tenant.

Used by tests/test_tenant_statements.py on Postgres (with and without
row-level security behind the ORM filter) and on SQLite (no RLS at all). Each
shape is measured in establishment A's scope, in B's, across tenants
(``system_scope``), and with no tenant at all (which must raise).
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from kiosk.auth.models import User
from kiosk.establishments.models import Establishment
from kiosk.devices.models import Device
from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues.models import Queue, Ticket, TicketSequence
from kiosk.tenancy import TenantContextMissing, system_scope, tenant_scope

T, Q = Ticket, Queue
tickets, queues = Ticket.__table__, Queue.__table__


def _count(statement) -> int:
    return int(db.session.execute(statement).scalar() or 0)


def _rows(statement) -> int:
    return len(db.session.execute(statement).all())


SHAPES = {
    # Entities among the columns.
    "select(Model)": lambda: _rows(sa.select(T)),
    "select(Model.column)": lambda: _rows(sa.select(T.id, T.code)),
    "select(Model).where": lambda: _rows(sa.select(T).where(T.kind == "STANDARD")),
    "count(Model.id)": lambda: _count(sa.select(sa.func.count(T.id))),
    "count(distinct(Model.column))": lambda: _count(sa.select(sa.func.count(sa.distinct(T.queue_id)))),
    "select(Establishment)": lambda: _rows(sa.select(Establishment)),
    "select(User.email)": lambda: _rows(sa.select(User.email)),
    "select(Device)": lambda: _rows(sa.select(Device)),
    "select(TicketSequence)": lambda: _rows(sa.select(TicketSequence)),
    # No entity among the columns: only in the FROM list.
    "count().select_from(Model)": lambda: _count(sa.select(sa.func.count()).select_from(T)),
    "count().select_from(Model).where": lambda: _count(
        sa.select(sa.func.count()).select_from(T).where(T.kind == "VIP")),
    "count().select_from(Model).join(Model)": lambda: _count(
        sa.select(sa.func.count()).select_from(T).join(Q, Q.id == T.queue_id)),
    "count().select_from(Model).outerjoin(Model)": lambda: _count(
        sa.select(sa.func.count()).select_from(Q).outerjoin(T, T.queue_id == Q.id)),
    "literal().select_from(Model)": lambda: _rows(sa.select(sa.literal(1)).select_from(T)),
    # Joins as the services write them (refunds, stats).
    "select(A, B).join": lambda: _rows(
        sa.select(T, Transaction).join(Transaction, Transaction.transaction_id == T.transaction_id)),
    "join + outerjoin(nullable)": lambda: _rows(
        sa.select(T, Q.name, User.email).join(Q, Q.id == T.queue_id).outerjoin(User, User.id == T.refunded_by)),
    "group_by over a join": lambda: sum(n for _name, n in db.session.execute(
        sa.select(Q.name, sa.func.count(T.id)).join(T, T.queue_id == Q.id).group_by(Q.name)).all()),
    "sum over a join": lambda: _count(sa.select(sa.func.coalesce(sa.func.sum(Transaction.amount), 0))
                                      .select_from(T).join(Transaction,
                                                           Transaction.transaction_id == T.transaction_id)),
    "aliased(Model)": lambda: _count(sa.select(sa.func.count()).select_from(aliased(T))),
    # Subqueries.
    "exists()": lambda: _count(sa.select(sa.func.count()).select_from(Q)
                               .where(sa.exists().where(T.queue_id == Q.id))),
    "scalar_subquery()": lambda: _count(sa.select(sa.select(sa.func.count(T.id)).scalar_subquery())),
    "in_(subquery)": lambda: _rows(sa.select(Q.id).where(Q.id.in_(sa.select(T.queue_id)))),
    # Core tables, no mapper at all.
    "count().select_from(Table)": lambda: _count(sa.select(sa.func.count()).select_from(tickets)),
    "Table.join(Table)": lambda: _count(
        sa.select(sa.func.count()).select_from(tickets.join(queues, queues.c.id == tickets.c.queue_id))),
    "select(Table.c.column)": lambda: _rows(sa.select(tickets.c.id)),
}


def measure(other_ticket_id: str | None = None) -> dict:
    """Run every shape; returns {shape: {"a", "b", "all", "raises"}} plus the update and get checks."""
    ids = [row[0] for row in _system(lambda: db.session.execute(
        sa.select(Establishment.id).order_by(Establishment.name)).all())]
    a, b = ids[0], ids[1]
    result = {}
    for name, shape in SHAPES.items():
        entry = {}
        for label, scope in (("a", lambda: tenant_scope(a)), ("b", lambda: tenant_scope(b)), ("all", system_scope)):
            with scope():
                entry[label] = shape()
            db.session.rollback()
        try:
            shape()
            entry["raises"] = False
        except TenantContextMissing:
            entry["raises"] = True
        db.session.rollback()
        result[name] = entry
    result["_update"] = _update_check(a, b)
    result["_get_other"] = _get_check(a, b)
    return result


def _system(work):
    with system_scope():
        try:
            return work()
        finally:
            db.session.rollback()


def _update_check(a, b) -> dict:
    """An UPDATE in A's scope with no explicit tenant condition changes only A's rows."""
    with tenant_scope(a):
        orm = db.session.execute(sa.update(T).values(counter="orm")).rowcount
        core = db.session.execute(tickets.update().values(counter="core")).rowcount
        db.session.commit()
    counters = _system(lambda: dict(db.session.execute(
        sa.select(T.establishment_id, sa.func.max(T.counter)).group_by(T.establishment_id)).all()))
    try:
        db.session.execute(sa.update(T).values(counter="none"))
        raises = False
    except TenantContextMissing:
        raises = True
    db.session.rollback()
    return {"orm": orm, "core": core, "a": counters.get(a), "b": counters.get(b), "raises": raises}


def _get_check(a, b) -> bool:
    """``session.get`` of B's ticket from A's scope finds nothing."""
    other = _system(lambda: db.session.execute(sa.select(T.id).where(T.establishment_id == b).limit(1)).scalar())
    db.session.expunge_all()
    with tenant_scope(a):
        found = db.session.get(T, other)
    db.session.rollback()
    return found is None


def seed() -> None:
    """Two establishments with rows of every kind (the factories), plus a paid and refunded VIP ticket each."""
    from tests import factories
    from kiosk.queues import services

    for name in ("Tenant A", "Tenant B"):
        tenant = factories.make_tenant(name)
        with tenant_scope(tenant.id):
            transaction_id = uuid.uuid4()
            db.session.add(Transaction(transaction_id=transaction_id, device_id=tenant.device_id, amount=600,
                                       currency="XOF", status="CONFIRMED", payload_hash="0" * 64))
            db.session.flush()
            ticket = services.issue_ticket(services.get_queue(tenant.queue_id), "VIP", transaction_id=transaction_id)
            services.transition(str(ticket.id), "cancel")
