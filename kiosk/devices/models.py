from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kiosk.base import TenantMixin, utcnow
from kiosk.extensions import db


class Device(TenantMixin, db.Model):
    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    queue_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("queues.id"), nullable=True)
    label: Mapped[str] = mapped_column(sa.String(120))
    # Fernet tokens (MultiFernet over DEVICE_SECRET_KEYS); the raw secret is never stored.
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    last_seen: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint("status IN ('ACTIVE', 'DISABLED')", name="ck_devices_status"),)

    # Named, not imported: devices and queues are sibling domains.
    queue = relationship("Queue", viewonly=True)


class DeviceClaim(TenantMixin, db.Model):
    """A one-use, short-lived code a manager hands to a kiosk being installed."""

    __tablename__ = "device_claims"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(120))
    queue_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("queues.id"), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    device_id: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
