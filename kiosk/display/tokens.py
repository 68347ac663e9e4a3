"""Display tokens of WebSocket handshakes, resolved from a cache in the process.

Every TV (re)connecting costs a token lookup; in a reconnect storm that is
1,000 pooled-connection checkouts, pings and queries at once, each making the
other handshakes wait (docs/performance.md, "Display reconnect storm"). A
token's display changes only when it is revoked (its label and its
establishment's name, locale and timezone are not used by the socket), so
each process keeps the resolved ``DisplayRef`` (``kiosk.local_cache``).

A revocation reaches every process through Redis pub/sub (``forget``,
subscribed to ``DisplayRevoked``) and empties the whole cache there: revoking
is rare, and the message then needs to carry neither the token (a secret) nor
a reverse index. Sockets already open are dropped by the hub on the same
event; the TTL is the safety net for a lost message. Unknown and revoked
tokens are not cached. The TV page and ``state.json`` still read the database.

After a restart the cache is empty and the whole storm misses it at once:
the misses of a ``BATCH_SECONDS`` window are resolved by one SELECT
(``services.resolve_tokens``) instead of one pooled checkout and query
each (docs/performance.md, "Display reconnect storm: handshake").
"""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Hashable

from flask import current_app

from kiosk.display import services
from kiosk.events import DisplayRevoked
from kiosk.extensions import redis_client
from kiosk.local_cache import LocalCache

CHANNEL = "displays:revoked"
TTL_SECONDS = 60.0
# How long the first miss waits for others to share its query. Under gevent
# a storm's handshakes arrive a few milliseconds apart; a lone (re)connecting
# screen pays this once, then hits the cache.
BATCH_SECONDS = 0.02


class _TokenCache(LocalCache):
    def drop(self, key: Hashable | None = None) -> None:
        # Any message means "a display was revoked somewhere": forget them all.
        super().drop(None)


_cache = _TokenCache(CHANNEL, TTL_SECONDS)


def _key(token: str) -> str:
    # Not the token itself: the dict would otherwise be a list of live secrets.
    return hashlib.blake2b(token.encode(), digest_size=16).hexdigest()


def resolve(token: str) -> services.DisplayRef | None:
    """The active display holding ``token`` (cached), or None."""
    if not token:
        return None
    return _cache.get_or_load(_key(token), lambda: _resolve_batched(token),
                              current_app._get_current_object())


class _Batch:
    """Tokens missing from the cache, resolved together by the first one's caller."""

    __slots__ = ("tokens", "done", "result")

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.done = threading.Event()
        self.result: dict[str, services.DisplayRef] | None = None


_batch: _Batch | None = None
_batch_lock = threading.Lock()


def _resolve_batched(token: str) -> services.DisplayRef | None:
    global _batch
    with _batch_lock:
        batch = _batch
        leader = batch is None
        if leader:
            batch = _batch = _Batch()
        batch.tokens.add(token)
    if not leader:
        batch.done.wait(timeout=10.0)
        if batch.result is None:  # the leader's query failed or hangs: ask alone
            return services.resolve_token(token)
        return batch.result.get(token)
    try:
        time.sleep(BATCH_SECONDS)  # the other misses of the storm join meanwhile
        with _batch_lock:
            _batch = None  # later misses start the next batch
        batch.result = services.resolve_tokens(batch.tokens)
        return batch.result.get(token)
    finally:
        with _batch_lock:
            if _batch is batch:
                _batch = None
        batch.done.set()


def forget(event: DisplayRevoked) -> None:
    """Subscriber of ``DisplayRevoked`` (after the commit): every process forgets its tokens."""
    _cache.invalidate("revoked", redis_client)


def listener() -> LocalCache:
    """The process's cache (tests wait for its listener, or stop it)."""
    return _cache
