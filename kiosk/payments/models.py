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
    # The cash collection that counted this payment's coins; NULL while they are in the box.
    # No FK (like ticket_id): only collect() sets it, in the collection's own transaction,
    # and adding one would make SQLite rebuild this table.
    collection_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("status IN ('PENDING', 'CONFIRMED', 'FAILED')", name="ck_transactions_status"),
        sa.CheckConstraint("amount > 0", name="ck_transactions_amount_positive"),
        # Revenue stats: confirmed payments of one establishment over a date range.
        sa.Index("ix_transactions_stats", "establishment_id", "status", "created_at"),
        # The sweeper: old PENDING rows, across tenants.
        sa.Index("ix_transactions_status_created", "status", "created_at"),
        # The cash box: a device's payments not yet collected (a few hundred rows at most).
        sa.Index("ix_transactions_open_box", "device_id", "created_at",
                 postgresql_where=sa.text("collection_id IS NULL"), sqlite_where=sa.text("collection_id IS NULL")),
    )


class CashCollection(TenantMixin, db.Model):
    """One emptying of a kiosk's coin box: what the box should have held, what was counted.

    Every payment the kiosk reported belongs to at most one collection
    (``transactions.collection_id``): a collection claims the payments still
    unclaimed, so a payment is counted exactly once whatever the order in
    which payments and collections commit.
    """

    __tablename__ = "cash_collections"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    device_id: Mapped[str] = mapped_column(sa.ForeignKey("devices.device_id", ondelete="CASCADE"))
    # 1, 2, 3... per device; unique, so two collections can never follow the same one.
    number: Mapped[int] = mapped_column(sa.Integer)
    collected_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # The previous collection's collected_at (the device's creation for the first one).
    since: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(sa.String(3))
    expected: Mapped[int] = mapped_column(sa.BigInteger)
    counted: Mapped[int] = mapped_column(sa.BigInteger)
    difference: Mapped[int] = mapped_column(sa.BigInteger)
    payments: Mapped[int] = mapped_column(sa.Integer)
    collected_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"),
                                                           nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("device_id", "number", name="uq_cash_collections_device_number"),
        sa.CheckConstraint("counted >= 0", name="ck_cash_collections_counted"),
        # The history and its CSV export: one establishment over a time range.
        sa.Index("ix_cash_collections_collected", "establishment_id", "collected_at"),
    )
