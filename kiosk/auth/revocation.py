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
This module is the one place the rule lives (a later in-process cache goes
in front of ``current_version``).
"""
from __future__ import annotations

import logging
import uuid

import sqlalchemy as sa

from kiosk.auth.models import User
from kiosk.cache import note_redis_failure, redis_in_outage
from kiosk.extensions import db, redis_client
from kiosk.tenancy import system_scope

log = logging.getLogger(__name__)

# One database read per active user per minute at most; bounds the partition window above.
CACHE_SECONDS = 60
NO_VERSION = -1


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
    """Overwrite the cached version (before and after the commit that changes it)."""
    try:
        redis_client.set(version_key(user_id), version, ex=CACHE_SECONDS)
        return True
    except Exception:  # noqa: BLE001
        return False


def forget_version(user_id) -> None:
    """After a rolled-back change: let the next reader load the database's value."""
    try:
        redis_client.delete(version_key(user_id))
    except Exception:  # noqa: BLE001
        log.error("revocation cache unreachable after a rollback", extra={"user_id": str(user_id)})
