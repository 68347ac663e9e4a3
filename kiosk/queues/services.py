"""Queues and tickets: every rule about them lives here."""
from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from kiosk.auth.models import Establishment
from kiosk.errors import ApiError
from kiosk.extensions import db
from kiosk.queues.models import Queue, Ticket, TicketSequence
from kiosk.tenancy import get_or_404, require_establishment_id


def create_queue(name: str, prefix: str) -> Queue:
    queue = Queue(name=name, prefix=prefix.upper(), vip_prefix="V", active=True)
    db.session.add(queue)
    db.session.commit()
    return queue


def list_queues() -> list[Queue]:
    return list(db.session.scalars(sa.select(Queue).order_by(Queue.created_at)))


def local_day(establishment: Establishment, moment: datetime | None = None) -> date:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(ZoneInfo(establishment.timezone)).date()


def next_number(queue_id: uuid.UUID, service_day: date, kind: str) -> int:
    """Take the next number for (queue, local day, kind) in one atomic upsert.

    Runs inside the caller's transaction: a rolled-back ticket gives its
    number back, and concurrent callers serialise on the one sequence row.
    """
    table = TicketSequence.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = {"establishment_id": require_establishment_id(), "queue_id": queue_id,
              "service_day": service_day, "kind": kind, "last_number": 1}
    statement = insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.queue_id, table.c.service_day, table.c.kind],
        set_={"last_number": table.c.last_number + 1},
    ).returning(table.c.last_number)
    return db.session.execute(statement).scalar_one()


def format_code(queue: Queue, kind: str, number: int) -> str:
    prefix = queue.vip_prefix if kind == "VIP" else queue.prefix
    return f"{prefix}-{number:03d}"


def new_tracking_token() -> str:
    return secrets.token_urlsafe(24)


def issue_ticket(queue: Queue, kind: str = "STANDARD", *, transaction_id=None, request_id=None,
                 device_id: str | None = None, commit: bool = True) -> Ticket:
    """Create a WAITING ticket with the next number of the local day.

    :raise ApiError 409 queue_closed: the queue is not active.
    """
    if not queue.active:
        raise ApiError(409, "queue_closed", _l("This queue is closed."))
    establishment = db.session.execute(
        sa.select(Establishment).where(Establishment.id == queue.establishment_id)
    ).scalar_one()
    day = local_day(establishment)
    number = next_number(queue.id, day, kind)
    ticket = Ticket(queue_id=queue.id, service_day=day, number=number, kind=kind, status="WAITING",
                    code=format_code(queue, kind, number), tracking_token=new_tracking_token(),
                    transaction_id=transaction_id, request_id=request_id, device_id=device_id)
    db.session.add(ticket)
    if commit:
        db.session.commit()
    return ticket


def get_queue(queue_id) -> Queue:
    return get_or_404(Queue, queue_id)
