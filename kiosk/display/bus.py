"""The TV fan-out: domain events published on each establishment's Redis channel.

Events on ``est:<establishment_id>:events`` are JSON objects with a ``type``
and a ``seq`` (per establishment, increasing, assigned here by Redis INCR so
that every web process forwards the same numbers and a listener can see a
gap). Their bodies are the events' ``broadcast()`` (kiosk/events.py).
"""
from __future__ import annotations

import json
import logging
import time

from kiosk.events import DomainEvent
from kiosk.extensions import redis_client

log = logging.getLogger(__name__)


def channel_for(establishment_id) -> str:
    return f"est:{establishment_id}:events"


def seq_key(establishment_id) -> str:
    return f"est:{establishment_id}:seq"


def publish(establishment_id, payload: dict) -> None:
    """Publish one message on the establishment's channel; never raises."""
    try:
        # sent_at lets a screen (and the load test) measure call-to-screen latency.
        payload = {**payload, "seq": redis_client.incr(seq_key(establishment_id)), "sent_at": time.time()}
        redis_client.publish(channel_for(establishment_id), json.dumps(payload, default=str))
    except Exception:  # noqa: BLE001
        log.warning("event publish failed", extra={"establishment_id": str(establishment_id)})


def broadcast(event: DomainEvent) -> None:
    """Event subscriber: send what screens should see of ``event``."""
    message = event.broadcast()
    if message is not None:
        publish(event.establishment_id, message)
