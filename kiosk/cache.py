"""Read-through Redis cache with per-establishment generations.

Invalidation is O(1): bump ``cache:gen:<establishment>``. An entry
``cache:<establishment>:<name>`` stores the generation it was computed
under; a read fetches the generation and the entry in one MGET (one round
trip) and ignores an entry from an older generation, so nothing is ever
scanned or deleted, and stale entries just expire by TTL. (A slow compute
that finishes after an invalidation writes an entry tagged with the old
generation: it is ignored too, never served.)

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


def _gen_key(establishment_id) -> str:
    return f"cache:gen:{establishment_id}"


# For a reader that fetches the generation together with keys of its own (one MGET).
generation_key = _gen_key


def _redis_failed(establishment_id, action: str) -> None:
    global _skip_until
    if time.monotonic() >= _skip_until:
        log.warning("cache unavailable, reading through", extra={
            "establishment_id": str(establishment_id), "action": action})
    _skip_until = time.monotonic() + OUTAGE_BACKOFF


def redis_in_outage() -> bool:
    """True while reads skip Redis after a failure (any module reading Redis on a hot path may honour it)."""
    return time.monotonic() < _skip_until


def note_redis_failure(action: str, establishment_id=None) -> None:
    """Record a Redis failure seen outside the cache: reads skip Redis for ``OUTAGE_BACKOFF`` seconds."""
    _redis_failed(establishment_id, action)


def reset_outage() -> None:
    """Forget a past outage at once (tests, or an operator who fixed Redis)."""
    global _skip_until
    _skip_until = 0.0


def invalidate(establishment_id) -> int | None:
    """Drop every entry of the establishment; the new generation, or None if Redis failed."""
    try:
        return int(redis_client.incr(_gen_key(establishment_id)))
    except Exception:  # noqa: BLE001
        _redis_failed(establishment_id, "invalidate")
        return None


def store(establishment_id, name: str, value: Any, generation: int, ttl: int = DEFAULT_TTL) -> None:
    """Cache a value computed for ``generation`` (the one this change's ``invalidate`` returned).

    If another change bumped the generation since, the entry is simply never
    served. Best effort: a failure only costs a recomputation.
    """
    if time.monotonic() < _skip_until:
        return
    try:
        redis_client.set(f"cache:{establishment_id}:{name}", str(generation).encode() + b"\n" + _encode(value),
                         ex=ttl)
    except Exception:  # noqa: BLE001
        _redis_failed(establishment_id, "write")


def cached(establishment_id, name: str, compute: Callable[[], Any], ttl: int = DEFAULT_TTL, *,
           raw: bool = False, refresh: bool = False) -> Any:
    """Return the cached JSON value for (establishment, name), computing it on a miss.

    ``compute`` must return JSON-native values, so a hit equals a miss. With
    ``raw=True`` the answer is the JSON text (bytes) itself, hit or miss, for a
    view that sends it as is (no decode and re-encode on the hot path).
    ``refresh=True`` always computes and stores (a warm-up restarting the TTL).
    """
    if time.monotonic() < _skip_until:
        return _encode(compute()) if raw else compute()
    key = f"cache:{establishment_id}:{name}"
    try:
        generation, entry = redis_client.mget(_gen_key(establishment_id), key)
        generation = generation or b"0"
        if entry is not None and not refresh:
            entry_generation, _, payload = entry.partition(b"\n")
            if entry_generation == generation:
                return payload if raw else json.loads(payload)
    except Exception:  # noqa: BLE001
        _redis_failed(establishment_id, "read")
        return _encode(compute()) if raw else compute()
    value = compute()
    payload = _encode(value)
    try:
        redis_client.set(key, generation + b"\n" + payload, ex=ttl)
    except Exception:  # noqa: BLE001
        _redis_failed(establishment_id, "write")
    return payload if raw else value


def _encode(value: Any) -> bytes:
    return json.dumps(value, default=str, separators=(",", ":")).encode()


def drop_stale_entries(event) -> None:
    """Event subscriber: a change makes the establishment's cached reads stale.

    Values the writer computed for the new state (``event.warm``) are stored
    under the new generation, so the reads that follow the change do not all
    recompute them.
    """
    if not event.stale_cache:
        return
    generation = invalidate(event.establishment_id)
    if generation is not None:
        for name, (value, ttl) in event.warm.items():
            store(event.establishment_id, name, value, generation, ttl)
