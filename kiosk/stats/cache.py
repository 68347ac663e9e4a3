"""Read-through Redis cache with per-establishment generations.

Invalidation is O(1): bump ``cache:gen:<establishment>``; every key built
from the old generation is simply never read again and expires by TTL.
A Redis outage degrades to uncached reads, never to an error.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

from kiosk.extensions import redis_client

log = logging.getLogger(__name__)

DEFAULT_TTL = 300


def _generation(establishment_id) -> int:
    value = redis_client.get(f"cache:gen:{establishment_id}")
    return int(value) if value else 0


def invalidate(establishment_id) -> None:
    try:
        redis_client.incr(f"cache:gen:{establishment_id}")
    except Exception:  # noqa: BLE001
        log.warning("cache invalidation failed", extra={"establishment_id": str(establishment_id)})


def cached(establishment_id, name: str, compute: Callable[[], Any], ttl: int = DEFAULT_TTL) -> Any:
    """Return the cached JSON value for (establishment, name), computing it on a miss."""
    try:
        key = f"cache:{establishment_id}:{_generation(establishment_id)}:{name}"
        hit = redis_client.get(key)
        if hit is not None:
            return json.loads(hit)
    except Exception:  # noqa: BLE001
        return compute()
    value = compute()
    try:
        redis_client.set(key, json.dumps(value, default=str), ex=ttl)
    except Exception:  # noqa: BLE001
        pass
    return value
