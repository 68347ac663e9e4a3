from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kiosk.base import TenantRoot, utcnow
from kiosk.extensions import db


class Establishment(TenantRoot, db.Model):
    __tablename__ = "establishments"

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
