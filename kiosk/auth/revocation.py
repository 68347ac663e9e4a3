"""Token revocation: one version number per user, carried by every JWT as ``ver``.

Bumping ``users.token_version`` (logout, deactivation, a role or password
change) makes every token issued before it fail at once with 401
``token_revoked``. The check runs on every staff request, so it stays off
the database: the current version is cached in Redis under
``auth:ver:<user id>`` (a hit is one GET), read from the database on a miss,
and read from the database every time while Redis is unreachable. It never
accepts a revoked token:

- a writer sets the new version in Redis *before* its commit and again after
  it, with a plain SET; a reader that missed fills the cache with SET NX, so
  a reader holding a version read before the commit can never overwrite a
  newer one;
- with Redis down for everyone, every check reads the database, so a
  revocation made meanwhile holds at once; a Redis that restarts comes back
  empty (nothing stale). The one window left: a writer cut off from a Redis
  that readers still reach (a partition) cannot overwrite the entry, which
  then lives at most ``CACHE_SECONDS`` more; that failure is logged as an
  error. Refusing the change instead would leave a manager unable to lock
  out a departing agent during any Redis outage.

A deactivated or deleted user is cached as ``-1``: no token matches it.

In front of Redis, each process keeps the versions it read
(``kiosk.local_cache``, as the device rows), so a staff request costs no
round trip. A writer drops the user's copy in its own process at once and in
every other one through Redis pub/sub, *before* its commit as well as after
it: another process that reloads on the first message finds the new version
already in Redis, so in practice it refuses the old tokens before the
revocation even commits; the window is at most the delivery time of the
message (milliseconds; ``tests/auth/test_revocation_cache.py`` measures it
with two real processes). A process whose subscription is down, not yet
confirmed, or silent (no answer to its heartbeat) does not serve its copies:
it reads Redis, then the database, as above. ``LOCAL_TTL_SECONDS`` is the
safety net for a lost message.

This module is the one place the rule lives.
"""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa
from flask import current_app

from kiosk.auth.models import User
from kiosk.cache import note_redis_failure, redis_in_outage
from kiosk.extensions import db, redis_client
from kiosk.local_cache import LocalCache
from kiosk.tenancy import system_scope

log = logging.getLogger(__name__)

# One database read per active user per minute at most; bounds the partition window above.
CACHE_SECONDS = 60
NO_VERSION = -1
CHANNEL = "auth:ver:changed"
# A lost invalidation is served at most this long by a process that stayed subscribed.
LOCAL_TTL_SECONDS = 5.0

_local = LocalCache(CHANNEL, LOCAL_TTL_SECONDS)


def version_key(user_id) -> str:
    return f"auth:ver:{user_id}"


def _database_version(user_id) -> int:
    try:
        uid = uuid.UUID(str(user_id))
    except ValueError:
        return NO_VERSION
    with system_scope():
        row = db.session.execute(sa.select(User.token_version, User.active).where(User.id == uid)).first()
    if row is None or not row.active:
        return NO_VERSION
    return int(row.token_version)


def current_version(user_id) -> int:
    """The version a token of this user must carry; ``NO_VERSION`` if none may."""
    key = str(user_id)
    return _local.get_or_load(key, lambda: _shared_version(key), current_app._get_current_object())


def _shared_version(user_id) -> int:
    # A Redis that hangs would cost its timeout on every request: after one
    # failure the database decides alone for a few seconds (kiosk/cache.py).
    if redis_in_outage():
        return _database_version(user_id)
    try:
        cached = redis_client.get(version_key(user_id))
    except Exception:  # noqa: BLE001 - Redis down: the database decides, every time
        note_redis_failure("token version")
        return _database_version(user_id)
    if cached is not None:
        return int(cached)
    version = _database_version(user_id)
    remember_version(user_id, version)
    return version


def remember_version(user_id, version: int) -> None:
    """Cache a version just read from the database (login, or a miss).

    SET NX: a revocation that committed since the read has already written a
    newer version, and an older read must never overwrite it.
    """
    if redis_in_outage():
        return
    try:
        redis_client.set(version_key(user_id), version, nx=True, ex=CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        note_redis_failure("token version")


def is_revoked(claims: dict) -> bool:
    # Tokens issued before versions existed carry none: they count as version 0.
    return claims.get("ver", 0) != current_version(claims.get("sub"))


def publish_version(user_id, version: int) -> bool:
    """Overwrite the cached version (before and after the commit that changes it).

    Redis first, then the processes' copies: a process that drops its copy
    and reloads must find the new version already there.
    """
    try:
        redis_client.set(version_key(user_id), version, ex=CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        # The same Redis would refuse the publish too (one timeout is enough):
        # the other processes' copies then expire by their TTL, well within
        # the Redis entry's own window documented above.
        _local.drop(str(user_id))
        return False
    _local.invalidate(str(user_id), redis_client)
    return True


def forget_version(user_id) -> None:
    """After a rolled-back change: let the next reader load the database's value."""
    try:
        redis_client.delete(version_key(user_id))
    except Exception:  # noqa: BLE001
        log.error("revocation cache unreachable after a rollback", extra={"user_id": str(user_id)})
    _local.invalidate(str(user_id), redis_client)


def local_cache() -> LocalCache:
    """The process's copies (tests wait for its listener, or drop it)."""
    return _local
