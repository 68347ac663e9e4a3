from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kiosk.auth import hashing
from kiosk.base import TenantMixin, utcnow
from kiosk.extensions import db

ROLES = ("manager", "agent")


class User(TenantMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(sa.String(16))
    locale: Mapped[str | None] = mapped_column(sa.String(5), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # A deactivated user cannot sign in; rows are never deleted (the audit trail names them).
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    # Every JWT carries the version it was issued under ("ver"); bumping it
    # revokes every token issued before (logout, deactivation, role or password change).
    token_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")

    __table_args__ = (sa.CheckConstraint("role IN ('manager', 'agent')", name="ck_users_role"),)

    # Named, not imported: accounts sit below the establishments domain, which
    # owns the model. Login reads the establishment's locale through it.
    establishment = relationship("Establishment", lazy="select", viewonly=True)

    def set_password(self, password: str) -> None:
        # Werkzeug 3 defaults to scrypt: slow and salted.
        self.password_hash = hashing.hash_password(password)

    def check_password(self, password: str, *, refuse_when_busy: bool = False) -> bool:
        """:raise hashing.Busy: with ``refuse_when_busy``, when this process's hashing pool is full."""
        return hashing.verify(self.password_hash, password, refuse_when_busy=refuse_when_busy)
