"""Side effects that run only after a commit: cache invalidation and the
queue event that displays and tracking pages listen to.

Events on ``est:<establishment_id>:events`` are JSON objects with a ``type``
and a ``seq`` (per establishment, increasing, assigned here by Redis INCR so
that every web process forwards the same numbers and a listener can see a
gap). Types published by the services:

- ``{"type": "ticket", "ticket_id", "queue_id", "code", "kind", "status", "counter"}``
  on every ticket change (issue, call, recall, serve, no-show, cancel);
- ``{"type": "called", "ticket": {"ticket_id", "code", "kind", "counter", "queue_id"}}``
  on call-next and recall (the TV announces it);
- ``{"type": "queue", "queue_id", "waiting": <count>, "next": [<ticket brief>, ...]}`` when a
  waiting list changes (``next``: the first tickets in calling order, what a TV shows);
- ``{"type": "payment", "transaction_id", "status", "ticket_id"}`` when a payment ends;
- ``{"type": "theme", "theme": {...}}`` when the establishment's theme changes.

A failure here is logged and swallowed: it must never roll back or fail the
payment or ticket change that caused it.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from kiosk.extensions import db, redis_client

log = logging.getLogger(__name__)

_KEY = "kiosk_after_commit"


def channel_for(establishment_id) -> str:
    return f"est:{establishment_id}:events"


def seq_key(establishment_id) -> str:
    return f"est:{establishment_id}:seq"


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
        # sent_at lets a screen (and the load test) measure call-to-screen latency.
        payload = {**payload, "seq": redis_client.incr(seq_key(establishment_id)), "sent_at": time.time()}
        redis_client.publish(channel_for(establishment_id), json.dumps(payload, default=str))
    except Exception:  # noqa: BLE001
        log.warning("event publish failed", extra={"establishment_id": str(establishment_id)})


def ticket_changed(establishment_id, payload: dict, warm: dict[str, tuple[Any, int]] | None = None) -> None:
    """After commit: invalidate the establishment's cache, then publish the event.

    ``warm`` maps cache names to ``(value, ttl)`` computed inside the
    transaction: stored under the generation this invalidation created, so the
    reads that follow the change do not all recompute it.
    """

    def _notify() -> None:
        from kiosk.stats.cache import invalidate, store

        generation = invalidate(establishment_id)
        publish(establishment_id, payload)
        if generation is not None:
            for name, (value, ttl) in (warm or {}).items():
                store(establishment_id, name, value, generation, ttl)

    after_commit(_notify)
