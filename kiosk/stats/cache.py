"""Read-through Redis cache with per-establishment generations.

Invalidation is O(1): bump ``cache:gen:<establishment>``; every key built
from the old generation is simply never read again and expires by TTL.

A Redis outage degrades to uncached reads, never to an error. After a
failure, reads skip Redis for ``OUTAGE_BACKOFF`` seconds (one warning per
outage), so a Redis that hangs costs one socket timeout, not one per
request. Invalidation is always attempted: it is what keeps entries correct
once Redis is back.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

from kiosk.extensions import redis_client

log = logging.getLogger(__name__)

DEFAULT_TTL = 300
OUTAGE_BACKOFF = 5.0

_skip_until = 0.0


def _generation(establishment_id) -> int:
    value = redis_client.get(f"cache:gen:{establishment_id}")
    return int(value) if value else 0


def _redis_failed(establishment_id, action: str) -> None:
    global _skip_until
    if time.monotonic() >= _skip_until:
        log.warning("cache unavailable, reading through", extra={
            "establishment_id": str(establishment_id), "action": action})
    _skip_until = time.monotonic() + OUTAGE_BACKOFF


def reset_outage() -> None:
    """Forget a past outage at once (tests, or an operator who fixed Redis)."""
    global _skip_until
    _skip_until = 0.0


def invalidate(establishment_id) -> None:
    try:
        redis_client.incr(f"cache:gen:{establishment_id}")
    except Exception:  # noqa: BLE001
        _redis_failed(establishment_id, "invalidate")


def cached(establishment_id, name: str, compute: Callable[[], Any], ttl: int = DEFAULT_TTL) -> Any:
    """Return the cached JSON value for (establishment, name), computing it on a miss.

    ``compute`` must return JSON-native values, so a hit equals a miss.
    """
    if time.monotonic() < _skip_until:
        return compute()
    try:
        key = f"cache:{establishment_id}:{_generation(establishment_id)}:{name}"
        hit = redis_client.get(key)
        if hit is not None:
            return json.loads(hit)
    except Exception:  # noqa: BLE001
        _redis_failed(establishment_id, "read")
        return compute()
    value = compute()
    try:
        redis_client.set(key, json.dumps(value, default=str), ex=ttl)
    except Exception:  # noqa: BLE001
        _redis_failed(establishment_id, "write")
    return value
