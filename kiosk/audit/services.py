"""The audit trail's rules: write one row inside the caller's transaction, read a range.

``record`` never commits: the event is part of the change it describes, so
both are kept or both are rolled back. Details are the caller's summary of
the change and must never hold a secret (a password, a device secret, a
claim code); the log scrubber's key list is applied as a last guard.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from kiosk.audit.models import AuditEvent
from kiosk.extensions import db
from kiosk.observability.logging import REDACTED, is_secret_key

# The actions written today; other issues add theirs (day closes, refunds, cash collections).
ACTIONS = ("user.created", "user.deactivated", "user.reactivated", "user.role_changed", "user.password_reset",
           "device.registered", "device.claim_issued", "device.claimed", "device.disabled", "device.enabled",
           "device.secret_rotated")


def _safe(details: dict | None) -> dict:
    return {key: (REDACTED if is_secret_key(key) else value) for key, value in (details or {}).items()}


def record(action: str, *, actor_id, target_type: str, target_id: str, details: dict | None = None) -> AuditEvent:
    """Add one event for the current establishment to the session (no commit)."""
    event = AuditEvent(action=action, actor_id=uuid.UUID(str(actor_id)) if actor_id else None,
                       target_type=target_type, target_id=str(target_id), details=_safe(details))
    db.session.add(event)
    return event


def list_events(start: datetime, end: datetime, limit: int) -> tuple[list[AuditEvent], bool]:
    """The current establishment's events in ``[start, end)``, newest first; and whether more match."""
    rows = list(db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit + 1)
    ))
    return rows[:limit], len(rows) > limit
