"""Devices: registration, secrets at rest, status. Every rule lives here."""
from __future__ import annotations

import secrets

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app

from kiosk.devices.models import Device
from kiosk.extensions import db


def _fernet() -> MultiFernet:
    # Newest key first: it encrypts; every key still decrypts.
    return MultiFernet([Fernet(k) for k in current_app.config["DEVICE_SECRET_KEYS"]])


def encrypt_secret(secret_key: str) -> str:
    return _fernet().encrypt(secret_key.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def new_device_id() -> str:
    return "dev_" + secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")


def register_device(label: str, queue_id=None) -> tuple[Device, str]:
    """Create a device; returns it with its secret, which is shown this once."""
    secret_key = secrets.token_hex(32)
    device = Device(device_id=new_device_id(), label=label, queue_id=queue_id,
                    secret_encrypted=encrypt_secret(secret_key), status="ACTIVE")
    db.session.add(device)
    db.session.commit()
    return device, secret_key
