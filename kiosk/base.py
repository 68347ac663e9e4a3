"""Helpers every layer shares: time in UTC, and the marks of tenant rows.

This module imports nothing from the package: tenancy, every domain and the
migrations' readers may all lean on it.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column


def _system_clock() -> datetime:
    return datetime.now(timezone.utc)


# The one clock of the app. Every "now" goes through ``utcnow``, so a
# simulation (a week of service in a test, a replayed day) replaces this one
# name and the whole app follows.
clock = _system_clock


def utcnow() -> datetime:
    """Now, in UTC."""
    return clock()


def aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def iso(moment: datetime | None) -> str | None:
    moment = aware(moment)
    return moment.isoformat() if moment else None


class TenantMixin:
    """Columns and marker for every row that belongs to one establishment."""

    establishment_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("establishments.id", ondelete="CASCADE"), index=True, nullable=False,
    )


class TenantRoot:
    """The establishment itself: its ``id`` is the tenant.

    Tenancy filters it on ``id`` without importing the model that carries it.
    """

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


# The shape of every URL-safe secret a client sends: tracking and display
# tokens, device nonces. Checked before any lookup, so junk costs nothing.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def as_uuid(value) -> uuid.UUID | None:
    """A UUID from a UUID or its text; None stays None. Raises ValueError on junk."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def related_class(relationship_attribute) -> type:
    """The model a relationship names, without importing it.

    A lower domain refers to a higher or sibling domain's table by name only
    (``relationship("Queue")``), so imports keep pointing one way.
    """
    return relationship_attribute.property.mapper.class_
