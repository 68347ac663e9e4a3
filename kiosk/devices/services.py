"""Devices: registration, claim codes, secrets at rest, status. Every rule lives here.

Secrets: 32 random bytes, issued as 64 lowercase hex chars and shown once.
At rest they are Fernet tokens (MultiFernet over ``DEVICE_SECRET_KEYS``,
newest key first), so the key can be rotated without re-provisioning kiosks.
Nothing here logs a secret or a claim code.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.fernet import Fernet, MultiFernet
from flask import current_app
from flask_babel import lazy_gettext as _l

from kiosk.audit.services import record as audit
from kiosk.base import aware, related_class, utcnow
from kiosk.devices.models import Device, DeviceClaim
from kiosk.errors import ApiError
from kiosk.events import DeviceChanged, emit
from kiosk.extensions import db
from kiosk.tenancy import get_or_404, require_establishment_id, system_scope, tenant_scope

log = logging.getLogger(__name__)

CLAIM_TTL = timedelta(minutes=15)
SECRET_GRACE = timedelta(hours=24)
# No 0/O, 1/I/L or U: a code is read off a screen and typed on a kiosk.
CLAIM_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CLAIM_LENGTH = 12  # 30**12 ~ 2**59, alive 15 minutes, per-IP limited


def _fernet() -> MultiFernet:
    # Newest key first: it encrypts; every key still decrypts.
    return MultiFernet([Fernet(k) for k in current_app.config["DEVICE_SECRET_KEYS"]])


def encrypt_secret(secret_key: str) -> str:
    return _fernet().encrypt(secret_key.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def new_secret() -> str:
    return secrets.token_hex(32)


def new_device_id() -> str:
    return "dev_" + secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")


# --- registration --------------------------------------------------------------------

def _add_device(label: str, queue_id) -> tuple[Device, str]:
    secret_key = new_secret()
    device = Device(device_id=new_device_id(), label=label.strip(), queue_id=queue_id,
                    secret_encrypted=encrypt_secret(secret_key), status="ACTIVE")
    db.session.add(device)
    return device, secret_key


def register_device(label: str, queue_id=None, *, actor_id=None) -> tuple[Device, str]:
    """Create a device in the current establishment; returns it with its secret, shown this once."""
    device, secret_key = _add_device(label, queue_id)
    audit("device.registered", actor_id=actor_id, target_type="device", target_id=device.device_id,
          details={"label": device.label, "queue_id": str(queue_id) if queue_id else None})
    db.session.commit()
    log.info("device registered", extra={"device_id": device.device_id, "via": "direct"})
    return device, secret_key


def queue_of_tenant(queue_id):
    """The current establishment's queue, or the contract's 404 (another tenant's id included)."""
    return get_or_404(related_class(Device.queue), queue_id)


def register_for_manager(label: str, queue_id, *, actor_id=None) -> tuple[Device, str]:
    """``POST /iot/register`` with a manager's JWT: the tenant is the JWT's.

    :raise ApiError 404: the queue is not one of this establishment's.
    """
    queue = queue_of_tenant(queue_id)
    return register_device(label, queue.id, actor_id=actor_id)


# --- claim codes ---------------------------------------------------------------------

def normalise_claim_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_claim_code(code: str) -> str:
    return hashlib.sha256(normalise_claim_code(code).encode()).hexdigest()


def _new_claim_code() -> str:
    raw = "".join(secrets.choice(CLAIM_ALPHABET) for _ in range(CLAIM_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CLAIM_LENGTH, 4))


def create_claim(label: str, queue_id, *, actor_id=None) -> tuple[DeviceClaim, str]:
    """A one-use code for a kiosk being installed; the code is returned once, stored hashed.

    :raise ApiError 404: the queue is not one of this establishment's.
    """
    queue = queue_of_tenant(queue_id)
    code = _new_claim_code()
    claim = DeviceClaim(code_hash=hash_claim_code(code), label=label.strip(), queue_id=queue.id,
                        expires_at=utcnow() + CLAIM_TTL)
    db.session.add(claim)
    db.session.flush()
    # The code itself is a secret: the trail names the claim, never its code.
    audit("device.claim_issued", actor_id=actor_id, target_type="device_claim", target_id=str(claim.id),
          details={"label": claim.label, "queue_id": str(queue.id), "expires_at": claim.expires_at.isoformat()})
    db.session.commit()
    log.info("device claim created", extra={"claim_id": str(claim.id)})
    return claim, code


class InvalidClaimCode(ApiError):
    """One answer for an unknown, expired or already used code: no oracle."""

    def __init__(self) -> None:
        super().__init__(401, "invalid_claim_code",
                         _l("This claim code is not valid, was already used or has expired. "
                            "Ask a manager for a new one."))


def register_with_claim(code: str) -> tuple[Device, str]:
    """``POST /iot/register`` with a claim code: the tenant, label and queue are the claim's.

    The claim is spent by one ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``:
    of two concurrent requests with the same code, exactly one sees a row.
    The device is created in the same transaction, so a failure spends nothing.

    :raise InvalidClaimCode: unknown, expired or already used.
    """
    now = utcnow()
    spend = (sa.update(DeviceClaim)
             .where(DeviceClaim.code_hash == hash_claim_code(code), DeviceClaim.used_at.is_(None),
                    DeviceClaim.expires_at > now)
             .values(used_at=now)
             .returning(DeviceClaim.id, DeviceClaim.establishment_id, DeviceClaim.label, DeviceClaim.queue_id)
             .execution_options(synchronize_session=False))
    with system_scope():  # a kiosk has no tenant yet: the claim is what names it
        claim = db.session.execute(spend).one_or_none()
    if claim is None:
        db.session.rollback()
        raise InvalidClaimCode()
    try:
        with tenant_scope(claim.establishment_id):
            device, secret_key = _add_device(claim.label, claim.queue_id)
            db.session.flush()
            db.session.execute(sa.update(DeviceClaim).where(DeviceClaim.id == claim.id)
                               .values(device_id=device.device_id)
                               .execution_options(synchronize_session=False))
            audit("device.claimed", actor_id=None, target_type="device", target_id=device.device_id,
                  details={"claim_id": str(claim.id), "label": claim.label})
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log.info("device registered", extra={"device_id": device.device_id, "via": "claim",
                                         "claim_id": str(claim.id)})
    return device, secret_key


# --- management ----------------------------------------------------------------------

def get_device(device_id: str) -> Device:
    """:raise NotFound: unknown, or another establishment's device."""
    return get_or_404(Device, device_id)


def list_devices() -> list[Device]:
    require_establishment_id()
    return list(db.session.scalars(sa.select(Device).order_by(Device.created_at, Device.device_id)))


def set_status(device_id: str, status: str, *, actor_id=None) -> Device:
    """Disable or enable a kiosk (idempotent: an unchanged status writes and audits nothing)."""
    device = get_device(device_id)
    if device.status != status:
        device.status = status
        emit(DeviceChanged(establishment_id=device.establishment_id, device_id=device.device_id))
        audit("device.disabled" if status == "DISABLED" else "device.enabled", actor_id=actor_id,
              target_type="device", target_id=device.device_id, details={"label": device.label})
        db.session.commit()
        log.info("device status changed", extra={"device_id": device_id, "status": status})
    return device


def rotate_secret(device_id: str, *, actor_id=None) -> tuple[Device, str]:
    """A new secret; the current one becomes the previous one, valid 24 h more.

    A second rotation inside those 24 h ends the grace of the first one
    (only one previous secret is kept).
    """
    device = get_device(device_id)
    secret_key = new_secret()
    device.previous_secret_encrypted = device.secret_encrypted
    device.secret_encrypted = encrypt_secret(secret_key)
    device.rotated_at = utcnow()
    emit(DeviceChanged(establishment_id=device.establishment_id, device_id=device.device_id))
    audit("device.secret_rotated", actor_id=actor_id, target_type="device", target_id=device.device_id,
          details={"label": device.label, "previous_valid_until": (device.rotated_at + SECRET_GRACE).isoformat()})
    db.session.commit()
    log.info("device secret rotated", extra={"device_id": device_id})
    return device, secret_key


def previous_secret_valid_until(device: Device, now: datetime | None = None) -> datetime | None:
    rotated_at = aware(device.rotated_at)
    if not device.previous_secret_encrypted or rotated_at is None:
        return None
    until = rotated_at + SECRET_GRACE
    return until if until > (now or utcnow()) else None


def candidate_secrets(device: Device, now: datetime | None = None) -> list[str]:
    """The secrets a request from this device may be signed with, right now."""
    candidates = [decrypt_secret(device.secret_encrypted)]
    if previous_secret_valid_until(device, now):
        candidates.append(decrypt_secret(device.previous_secret_encrypted))
    return candidates


def describe(device: Device, queue_names: dict | None = None) -> dict:
    """The device as staff see it. No secret, encrypted or not."""
    if queue_names is None:
        queue_names = _queue_names([device.queue_id])
    return {
        "device_id": device.device_id,
        "label": device.label,
        "status": device.status,
        "last_seen": aware(device.last_seen),
        "queue_id": device.queue_id,
        "queue_name": queue_names.get(device.queue_id),
        "created_at": aware(device.created_at),
        "rotated_at": aware(device.rotated_at),
        "previous_secret_valid_until": previous_secret_valid_until(device),
    }


def describe_all() -> list[dict]:
    devices = list_devices()
    names = _queue_names([d.queue_id for d in devices])
    return [describe(d, names) for d in devices]


def _queue_names(queue_ids) -> dict[uuid.UUID, str]:
    Queue = related_class(Device.queue)  # noqa: N806 - a model class
    wanted = {q for q in queue_ids if q is not None}
    if not wanted:
        return {}
    rows = db.session.execute(sa.select(Queue.id, Queue.name).where(Queue.id.in_(wanted)))
    return {row.id: row.name for row in rows}
