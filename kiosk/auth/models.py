from __future__ import annotations

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from kiosk.concurrency import off_loop
from kiosk.extensions import db
from kiosk.tenancy import TenantMixin

ROLES = ("manager", "agent")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Establishment(db.Model):
    __tablename__ = "establishments"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(120))
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Africa/Abidjan")
    currency: Mapped[str] = mapped_column(sa.String(3), default="XOF")
    locale: Mapped[str] = mapped_column(sa.String(5), default="fr")
    vip_price: Mapped[int] = mapped_column(sa.Integer, default=500)
    # primary, accent, vip colours (hex), logo_url, sound; validated by the theme schema.
    theme: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    vip_streak_max: Mapped[int] = mapped_column(sa.Integer, default=3)
    max_standard_wait_min: Mapped[int] = mapped_column(sa.Integer, default=45)
    # {"mon": ["08:00", "18:00"], ...} in local time; used by display health warnings.
    opening_hours: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # Cash collections whose |counted - expected| exceeds this (minor units) are highlighted.
    cash_difference_threshold: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class User(TenantMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(sa.String(16))
    locale: Mapped[str | None] = mapped_column(sa.String(5), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint("role IN ('manager', 'agent')", name="ck_users_role"),)

    def set_password(self, password: str) -> None:
        # Werkzeug 3 defaults to scrypt: slow and salted.
        self.password_hash = off_loop(generate_password_hash, password)

    def check_password(self, password: str) -> bool:
        return off_loop(check_password_hash, self.password_hash, password)
