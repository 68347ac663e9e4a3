"""The audit trail: who did what, to what, and when. Append-only.

Rows are only ever inserted. On Postgres a trigger refuses UPDATE and DELETE
(for every role, the owner included) and the app role has neither privilege
(migration 0007_staff_audit); row-level security keeps each establishment's
trail to itself, like every tenant table.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kiosk.base import TenantMixin, utcnow
from kiosk.extensions import db


class AuditEvent(TenantMixin, db.Model):
    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # The staff user who acted; None for the system (a kiosk claiming its code, a task).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str] = mapped_column(sa.String(64))
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    __table_args__ = (sa.Index("ix_audit_events_establishment_time", "establishment_id", "occurred_at"),)
