from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kiosk.base import TenantMixin, utcnow
from kiosk.extensions import db

PAYMENT_STATUSES = ("PENDING", "CONFIRMED", "FAILED")


class Transaction(TenantMixin, db.Model):
    __tablename__ = "transactions"

    # Chosen by the device, so a retry names the same payment.
    transaction_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(10), default="PENDING")
    failure_reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    # No FK: tickets.transaction_id already points here (and is unique).
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    payload_hash: Mapped[str] = mapped_column(sa.String(64))
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("status IN ('PENDING', 'CONFIRMED', 'FAILED')", name="ck_transactions_status"),
        sa.CheckConstraint("amount > 0", name="ck_transactions_amount_positive"),
        # Revenue stats: confirmed payments of one establishment over a date range.
        sa.Index("ix_transactions_stats", "establishment_id", "status", "created_at"),
        # The sweeper: old PENDING rows, across tenants.
        sa.Index("ix_transactions_status_created", "status", "created_at"),
    )
