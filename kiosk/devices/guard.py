"""``verify_device_signature``: the contract's six checks, in order.

1. headers missing or malformed      -> 401 missing_signature
2. timestamp more than 300 s off      -> 401 stale_timestamp
3. unknown device, or a signature matching neither the current secret nor
   the previous one still in its grace period -> 401 invalid_signature
   (one answer for both: a device_id's existence is never revealed)
4. device DISABLED                     -> 403 device_disabled
5. nonce seen for this device in 600 s -> 401 replayed_request (Redis SET NX EX)
6. sets the request's device and establishment (never from the body)

Verify first, then count: only a request that fails checks 1-3 or 5 counts
against the per-IP failure limit, and past it only failing requests get 429
(``kiosk.security.auth_failure``): a correctly signed request from a kiosk
behind the same NAT as a misbehaving neighbour always passes.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from functools import wraps
from typing import Callable

import sqlalchemy as sa
from flask import current_app, g, request
from flask_babel import lazy_gettext as _l

from kiosk.base import TOKEN_SHAPE
from kiosk.devices import signing
from kiosk.devices.models import Device
from kiosk.devices.cache import KnownDevice, known_device, reread
from kiosk.devices.services import decrypt_secret, encrypt_secret
from kiosk.errors import ApiError
from kiosk.events import after_commit
from kiosk.extensions import db, redis_client
from kiosk.security import auth_failure, identity_guarded, signed_request_gate
from kiosk.tenancy import set_current_establishment

log = logging.getLogger(__name__)

CLOCK_WINDOW_SECONDS = 300
NONCE_TTL_SECONDS = 600
LAST_SEEN_EVERY_SECONDS = 60

# A nonce has the shape of every URL-safe secret (kiosk/base.py).
_NONCE_RE = TOKEN_SHAPE
_DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_SIGNATURE_RE = re.compile(r"^v1=[0-9a-f]{64}$")
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")


def _refuse(status: int, code: str, message) -> ApiError:
    return auth_failure(ApiError(status, code, message))


def signed_path() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def _headers_well_formed(device_id: str, timestamp: str, nonce: str, signature: str) -> bool:
    # fullmatch, not match: "$" would let a trailing newline through.
    return bool(_DEVICE_ID_RE.fullmatch(device_id) and _TIMESTAMP_RE.fullmatch(timestamp)
                and _NONCE_RE.fullmatch(nonce) and _SIGNATURE_RE.fullmatch(signature))


_decoy_tokens: dict[tuple, str] = {}


def _decoy_secret() -> str:
    """Decrypt a throwaway token, so an unknown device costs what a known one does."""
    keys = tuple(current_app.config["DEVICE_SECRET_KEYS"])
    token = _decoy_tokens.get(keys)
    if token is None:
        token = _decoy_tokens[keys] = encrypt_secret("0" * 64)
    return decrypt_secret(token)


def _signature_matches(device: KnownDevice | None, now: datetime, device_id: str, timestamp: str, nonce: str,
                       body: bytes, signature: str) -> bool:
    matched = False
    if device is not None:
        for secret_key in device.candidate_secrets(now):
            expected = signing.sign(secret_key, request.method, signed_path(), device_id, timestamp, nonce, body)
            matched |= signing.signature_matches(expected, signature)
    else:
        # Same work for an unknown device, so timing does not reveal existence.
        expected = signing.sign(_decoy_secret(), request.method, signed_path(), device_id, timestamp, nonce, body)
        signing.signature_matches(expected, signature)
    return matched


def authenticate_device(defer_last_seen: bool = False) -> KnownDevice:
    device_id = request.headers.get("X-Device-Id", "")
    timestamp = request.headers.get("X-Timestamp", "")
    nonce = request.headers.get("X-Nonce", "")
    signature = request.headers.get("X-Signature", "")
    if not _headers_well_formed(device_id, timestamp, nonce, signature):
        raise _refuse(401, "missing_signature", _l("The request is not signed."))
    # Whole seconds on both sides: the window is symmetric, exactly ±300 s.
    if abs(int(time.time()) - int(timestamp)) > CLOCK_WINDOW_SECONDS:
        raise _refuse(401, "stale_timestamp", _l("The request's clock is too far from the server's."))

    # Cached in the process, dropped everywhere on a change (kiosk/devices/cache.py).
    device = known_device(device_id)
    now = datetime.now(timezone.utc)
    body = request.get_data(cache=True)
    matched = _signature_matches(device, now, device_id, timestamp, nonce, body, signature)
    if not matched:
        # The copy may predate a rotation whose message was lost: the database
        # decides before a correctly signed kiosk is refused. (An unknown
        # device is read again too: the same work either way.)
        device = reread(device_id)
        matched = _signature_matches(device, now, device_id, timestamp, nonce, body, signature)
    if not matched:
        raise _refuse(401, "invalid_signature", _l("The request signature is not valid."))
    if device.status != "ACTIVE":
        raise ApiError(403, "device_disabled", _l("This device is disabled."))
    identity = f"device:{device.device_id}"
    # Nonce, identity limit and last_seen gate: one Redis round trip (kiosk/security.py).
    fresh, last_seen_due = signed_request_gate(
        identity, f"nonce:{device_id}:{nonce}", NONCE_TTL_SECONDS,
        f"last_seen:{device.device_id}", LAST_SEEN_EVERY_SECONDS, redis_client)
    if not fresh:
        raise _refuse(401, "replayed_request", _l("This request was already received."))

    set_current_establishment(device.establishment_id)
    g.device = device
    g.device_id = device.device_id
    g.establishment_id = device.establishment_id
    g.rate_limit_identity = identity
    if last_seen_due:
        _touch_last_seen(device, now, commit=not defer_last_seen)
    return device


_LAST_SEEN_PENDING = "_kiosk_last_seen_pending"
_LAST_SEEN = Device.__table__


def _touch_last_seen(device: KnownDevice, now: datetime, commit: bool = True) -> None:
    """Write last_seen; the Redis gate above lets one request per device and minute do it.

    Deferred (the guard's own wrapper), the UPDATE joins the view's transaction
    and commits with it: a payment then costs one transaction, not two (each
    with a pool checkout and its ping, docs/performance.md "Ingest pipeline").
    """
    # Core, on the session's connection: RLS applies; the ORM's update machinery has nothing to do here.
    db.session.connection().execute(
        sa.update(_LAST_SEEN).where(_LAST_SEEN.c.device_id == device.device_id,
                                    _LAST_SEEN.c.establishment_id == device.establishment_id)
        .values(last_seen=now))
    if commit:
        db.session.commit()
        return
    setattr(g, _LAST_SEEN_PENDING, (device, now))
    after_commit(lambda: g.pop(_LAST_SEEN_PENDING, None))


def _commit_last_seen(failed: bool) -> None:
    """After the view: commit a deferred last_seen the view did not commit itself.

    A view that failed has its work rolled back first: only last_seen is written.
    """
    pending = g.pop(_LAST_SEEN_PENDING, None)
    if pending is None:
        return
    try:
        if failed:
            db.session.rollback()
            _touch_last_seen(*pending)
        else:
            db.session.commit()
    except Exception as exc:  # noqa: BLE001 - bookkeeping must not fail (or mask) the answer
        log.warning("last_seen not written", extra={"device_id": pending[0].device_id,
                                                     "error": type(exc).__name__})
        db.session.rollback()


def verify_device_signature(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        authenticate_device(defer_last_seen=True)
        try:
            response = view(*args, **kwargs)
        except BaseException:
            _commit_last_seen(failed=True)
            raise
        _commit_last_seen(failed=False)
        return response

    return identity_guarded(wrapper)
