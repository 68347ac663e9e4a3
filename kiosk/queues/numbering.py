"""Ticket numbers and codes: one sequence per queue, local day and kind."""
from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime

from kiosk.base import utcnow
from kiosk.extensions import db
from kiosk.queues import service_day as calendar
from kiosk.queues.models import Queue, TicketSequence
from kiosk.tenancy import require_establishment_id


def local_day(establishment, moment: datetime | None = None) -> date:
    """The establishment's service day at ``moment`` (now by default): its local calendar date."""
    return calendar.local_day(establishment.timezone, moment or utcnow())


def vip_prefix_for(prefix: str) -> str:
    """VIP codes name their queue (``VA-007`` for queue ``A``): unique across queues, since prefixes are,
    and never a standard code, since a standard prefix may not start with V."""
    return "V" + prefix.upper()


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
