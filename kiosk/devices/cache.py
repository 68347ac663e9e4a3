"""Device rows for the signature guard, cached in the process.

Every signed request needs its device: the secrets (decrypted: Fernet costs
as much as the HMAC), the status, the establishment and the queue. Those
change only when staff disable, enable or rotate a device, so each process
keeps them (``kiosk.local_cache``): a hit costs no query and no decryption.

A disable, an enable or a rotation reaches every process through Redis
pub/sub within milliseconds (``forget``, subscribed to ``DeviceChanged``); the TTL
below is the safety net for a lost message; a process whose listener is
down reads the database on every request. Payment processing checks the
device's status again in the database before it issues a ticket
(kiosk/payments/processing.py), so a payment signed in the instant before a
disable reached a process still ends FAILED ``device_disabled``.

Unknown devices are not cached: a device registered a moment ago works at once.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from kiosk.devices.models import Device
from kiosk.devices.services import decrypt_secret, previous_secret_valid_until
from kiosk.events import DeviceChanged
from kiosk.extensions import db, redis_client
from kiosk.local_cache import LocalCache
from kiosk.tenancy import system_scope

CHANNEL = "devices:changed"
# Short, as a safety net should be, but not 10 s: at 10 s every payment of a
# kiosk missed, paying a SELECT and a Fernet decryption (~1.5-3 ms of CPU
# under load, docs/performance.md "Ingest pipeline"). A payment's status polls
# (every 0.5 s) and a busy kiosk's next payment hit within a minute. Pub/sub
# drops an entry within milliseconds; the TTL only bounds a message lost while
# its listener stayed subscribed (a resubscription empties the cache, and a
# silent Redis stops the cache from serving), and the guard re-reads the row
# before refusing a signature (a rotation is never late).
TTL_SECONDS = 60.0

_cache = LocalCache(CHANNEL, TTL_SECONDS)


@dataclass(frozen=True)
class KnownDevice:
    """What a signed request needs of its device; read-only, shared across requests."""
    device_id: str
    establishment_id: uuid.UUID
    queue_id: uuid.UUID | None
    status: str
    secret: str
    previous_secret: str | None
    previous_valid_until: datetime | None

    def candidate_secrets(self, now: datetime) -> list[str]:
        """The secrets a request may be signed with at ``now`` (the previous one during its grace)."""
        if self.previous_secret and self.previous_valid_until and self.previous_valid_until > now:
            return [self.secret, self.previous_secret]
        return [self.secret]


def _load(device_id: str) -> KnownDevice | None:
    with system_scope():
        device = db.session.execute(sa.select(Device).where(Device.device_id == device_id)).scalar_one_or_none()
    if device is None:
        return None
    # The grace end, computed once: an entry outlives its TTL by nothing.
    until = previous_secret_valid_until(device)
    return KnownDevice(
        device_id=device.device_id, establishment_id=device.establishment_id, queue_id=device.queue_id,
        status=device.status, secret=decrypt_secret(device.secret_encrypted),
        previous_secret=decrypt_secret(device.previous_secret_encrypted) if until else None,
        previous_valid_until=until,
    )


def known_device(device_id: str) -> KnownDevice | None:
    """The device, from this process's cache or the database; None if unknown."""
    return _cache.get_or_load(device_id, lambda: _load(device_id), current_app._get_current_object())


def reread(device_id: str) -> KnownDevice | None:
    """The device from the database, replacing this process's copy (a signature failed against it)."""
    _cache.drop(device_id)
    return known_device(device_id)


def forget(event: DeviceChanged) -> None:
    """Subscriber of ``DeviceChanged`` (after the commit): drop the device in every process."""
    _cache.invalidate(event.device_id, redis_client)


def listener() -> LocalCache:
    """The process's cache (tests wait for its listener, or stop it)."""
    return _cache
