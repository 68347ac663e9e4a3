"""Side effects that run only after a commit: cache invalidation and the
queue event that displays and tracking pages listen to.

A failure here is logged and swallowed: it must never roll back or fail the
payment or ticket change that caused it.
"""
from __future__ import annotations

import json
import logging
from typing import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from kiosk.extensions import db, redis_client

log = logging.getLogger(__name__)

_KEY = "kiosk_after_commit"


def channel_for(establishment_id) -> str:
    return f"est:{establishment_id}:events"


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current transaction commits (dropped on rollback)."""
    db.session().info.setdefault(_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001
            log.exception("after-commit side effect failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def publish(establishment_id, payload: dict) -> None:
    """Publish one event on the establishment's channel; never raises."""
    try:
        redis_client.publish(channel_for(establishment_id), json.dumps(payload, default=str))
    except Exception:  # noqa: BLE001
        log.warning("event publish failed", extra={"establishment_id": str(establishment_id)})


def ticket_changed(establishment_id, payload: dict) -> None:
    """After commit: invalidate the establishment's cache, then publish the event."""

    def _notify() -> None:
        from kiosk.stats.cache import invalidate

        invalidate(establishment_id)
        publish(establishment_id, payload)

    after_commit(_notify)
