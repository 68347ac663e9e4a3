"""A kiosk's payment poll (``GET /iot/payments/<id>``) answered from a Redis snapshot.

A kiosk polls its payment about once a second until it is settled. The
answer is kept in Redis as the response's exact bytes, under the payment's
id, so a poll with nothing changed costs one MGET and no SQL. The entry
carries:

- its owners, the establishment and the device: it answers only the device
  the database query would; any other poll reads the database (and gets its
  404);
- the payment's version it was read under (``poll:pay:v:<id>``), bumped by
  ``PaymentSettled`` after the commit (``drop_settled``);
- for a body with a ticket (its position and ETA move with the whole queue),
  the establishment's cache generation too (kiosk/cache.py: every ticket and
  queue change bumps it); a ticketless body (PENDING, FAILED) ignores it, so
  the queue's traffic does not evict the polls that matter most.

The versions are read in the same MGET as the entry, *before* the database:
a poll that read the database before a settlement committed writes an entry
tagged with the old version, which is never served (the race "read old,
event drops, write old"). A Redis outage falls back to the database, with
kiosk/cache.py's backoff. An invalidation lost to an outage is bounded by
the entry's TTL.
"""
from __future__ import annotations

import logging
from typing import Callable

from kiosk.base import as_uuid, aware, utcnow
from kiosk.cache import generation_key, note_redis_failure, redis_in_outage
from kiosk.events import PaymentSettled
from kiosk.extensions import redis_client
from kiosk.payments.ingest import NUDGE_AFTER
from kiosk.payments.models import Transaction
from kiosk.queues.estimates import ESTIMATES_TTL_SECONDS

log = logging.getLogger(__name__)

# A PENDING entry is the one a lost invalidation would leave wrong: keep it short.
PENDING_TTL = 10
# FAILED never changes; CONFIRMED carries a ticket whose ETA drifts with time.
FAILED_TTL = 60
VERSION_TTL = 3600  # outlives every entry
_ANY = b"*"

Load = Callable[[], tuple[Transaction, bytes]]


def _version_key(ident) -> str:
    return f"poll:pay:v:{ident}"


def _entry_key(ident) -> str:
    return f"poll:pay:{ident}"


def status_json(device, transaction_id: str, load: Load) -> bytes:
    """The status response's body for ``device``: the snapshot, else ``load()`` (stored).

    ``load`` reads the database and returns the payment and the response's
    bytes; it raises for a payment the device may not see (never stored).
    """
    try:
        ident = as_uuid(transaction_id)
    except (ValueError, TypeError, AttributeError):
        return load()[1]  # its 404
    if redis_in_outage():
        return load()[1]
    establishment = str(device.establishment_id).encode()
    try:
        version, generation, entry = redis_client.mget(
            _version_key(ident), generation_key(device.establishment_id), _entry_key(ident))
    except Exception:  # noqa: BLE001 - the database answers instead
        note_redis_failure("payment poll read", device.establishment_id)
        return load()[1]
    version, generation = version or b"0", generation or b"0"
    if entry is not None:
        raw = _serve(entry, version, generation, establishment, device.device_id.encode())
        if raw is not None:
            return raw
    transaction, raw = load()
    _store(ident, transaction, raw, version, generation, establishment, device.device_id.encode())
    return raw


def _serve(entry: bytes, version: bytes, generation: bytes, establishment: bytes, device_id: bytes) -> bytes | None:
    try:
        tag, tag_generation, owner, owner_device, nudge_at, raw = entry.split(b"\n", 5)
    except ValueError:
        return None
    if owner != establishment or owner_device != device_id:
        return None
    if tag != version or (tag_generation != _ANY and tag_generation != generation):
        return None
    # A payment still PENDING after 30 s is re-enqueued by the database path (ingest._nudge).
    if nudge_at and utcnow().timestamp() >= float(nudge_at):
        return None
    return raw


def _store(ident, transaction: Transaction, raw: bytes, version: bytes, generation: bytes, establishment: bytes,
           device_id: bytes) -> None:
    if str(transaction.establishment_id).encode() != establishment or transaction.device_id.encode() != device_id:
        return  # never: the query is filtered by both; a snapshot must not depend on it
    nudge_at = b""
    if transaction.status == "PENDING":
        ttl = PENDING_TTL
        nudge_at = str((aware(transaction.created_at) + NUDGE_AFTER).timestamp()).encode()
    elif transaction.ticket_id is not None:
        ttl = ESTIMATES_TTL_SECONDS
    else:
        ttl = FAILED_TTL
    tagged_generation = generation if transaction.ticket_id is not None else _ANY
    try:
        redis_client.set(_entry_key(ident), b"\n".join(
            (version, tagged_generation, establishment, device_id, nudge_at, raw)), ex=ttl)
    except Exception:  # noqa: BLE001 - a failure only costs the next poll a query
        note_redis_failure("payment poll write", transaction.establishment_id)


def drop_settled(event: PaymentSettled) -> None:
    """Event subscriber: a settled payment's snapshot is stale (and any read in flight is too)."""
    key = _version_key(as_uuid(event.transaction_id))
    try:
        pipe = redis_client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, VERSION_TTL)
        pipe.execute()
    except Exception:  # noqa: BLE001 - the entry's short TTL bounds the damage
        note_redis_failure("payment poll invalidate", event.establishment_id)
        log.warning("payment poll snapshot not invalidated; it expires by TTL",
                    extra={"transaction_id": event.transaction_id})
