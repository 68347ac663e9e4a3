from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kiosk.base import TenantMixin, utcnow
from kiosk.extensions import db

TICKET_KINDS = ("STANDARD", "VIP")
TICKET_STATUSES = ("WAITING", "CALLED", "SERVED", "NO_SHOW", "CANCELLED", "EXPIRED")
# Still in line for today: the only statuses the end of a service day expires.
OPEN_STATUSES = ("WAITING", "CALLED")
# A paid ticket that ended in one of these without being served is owed its money back.
REFUNDABLE_STATUSES = ("EXPIRED", "NO_SHOW", "CANCELLED")
DEFAULT_SERVICE_SECONDS = 300.0


class Queue(TenantMixin, db.Model):
    __tablename__ = "queues"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(120))
    prefix: Mapped[str] = mapped_column(sa.String(4))
    # "V" + prefix: VIP codes name their queue, so two queues never both call "V-001" (see §5 Service day).
    vip_prefix: Mapped[str] = mapped_column(sa.String(4), default="V")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # Exponentially weighted mean of real service times, seeded with a default.
    mean_service_seconds: Mapped[float] = mapped_column(sa.Float, default=DEFAULT_SERVICE_SECONDS)
    served_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class TicketSequence(TenantMixin, db.Model):
    """Last number issued per queue, local day and kind.

    Incremented with a single upsert, so concurrent issuing never repeats a
    number, without a table lock.
    """

    __tablename__ = "ticket_sequences"

    queue_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    service_day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    last_number: Mapped[int] = mapped_column(sa.Integer, default=0)


class Ticket(TenantMixin, db.Model):
    __tablename__ = "tickets"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    queue_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("queues.id", ondelete="CASCADE"))
    service_day: Mapped[date] = mapped_column(sa.Date)
    number: Mapped[int] = mapped_column(sa.Integer)
    code: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(10), default="STANDARD")
    status: Mapped[str] = mapped_column(sa.String(10), default="WAITING")
    counter: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    tracking_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("transactions.transaction_id"), unique=True, nullable=True,
    )
    # Idempotency key of a free ticket printed by a device (POST /iot/tickets).
    request_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, unique=True, nullable=True)
    device_id: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    call_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    called_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    served_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    # A paid ticket that ended unserved and whose money was handed back: when, and by which manager.
    refunded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    refunded_by: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL", name="fk_tickets_refunded_by_users"), nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("queue_id", "service_day", "kind", "number", name="uq_tickets_daily_number"),
        # A TV shows only the code and the counter: one code per establishment and service day.
        sa.UniqueConstraint("establishment_id", "service_day", "code", name="uq_tickets_daily_code"),
        sa.CheckConstraint("kind IN ('STANDARD', 'VIP')", name="ck_tickets_kind"),
        sa.CheckConstraint(
            "status IN ('WAITING', 'CALLED', 'SERVED', 'NO_SHOW', 'CANCELLED', 'EXPIRED')", name="ck_tickets_status",
        ),
        # The waiting list and call-next read by queue and status, oldest first.
        sa.Index("ix_tickets_queue_status_created", "queue_id", "status", "created_at"),
        sa.Index("ix_tickets_establishment_created", "establishment_id", "created_at"),
        # The end of a day: open tickets of an establishment up to a service day.
        sa.Index("ix_tickets_establishment_status_day", "establishment_id", "status", "service_day"),
    )
